"""Request quotas: AWS's per-second limits, charged per (account, region, quota).

Kept import-light on purpose: the native shared table (``gateway.quotas.shared``) is
imported only by code that runs several workers.
"""
