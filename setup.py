"""Builds the cffi extensions ``gateway._native`` (crypto) and ``gateway._quota`` (shared
quota buckets); all metadata is in pyproject.toml."""

from setuptools import setup

setup(cffi_modules=["native/build_native.py:ffibuilder", "native/build_quota.py:ffibuilder"])
