/*
 * ECDSA batches on a native thread of their own, so a signature (about 21 us of
 * P-256 on the reference machine) runs on another core while the event loop
 * goes on serving. The thread never touches Python: the caller queues a job
 * (gw_ecw_submit) and returns at once; the thread runs gw_ec_sign or
 * gw_ec_verify on it, moves it to the done list and writes the worker's
 * eventfd; the event loop, woken by that descriptor, takes the finished jobs
 * (gw_ecw_collect) and delivers their results. Handing a batch over this way
 * costs a queue push and two small syscalls, not the GIL round trips a
 * Python thread pool needs.
 *
 * The caller owns each job and every buffer it points to until the job has
 * come back from gw_ecw_collect, and keeps the job's key open that long.
 */
#define _GNU_SOURCE /* pthreads and eventfd under -std=c99 */

#include "gateway_native.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

struct gw_ecw {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    gw_ec_job *queued_head, *queued_tail; /* oldest first */
    gw_ec_job *done_head, *done_tail;
    int stopping;
    int event_fd;
    pthread_t thread;
};

static void push(gw_ec_job **head, gw_ec_job **tail, gw_ec_job *job)
{
    job->next = NULL;
    if (*tail == NULL)
        *head = job;
    else
        (*tail)->next = job;
    *tail = job;
}

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void run_job(gw_ec_job *job)
{
    double started = now_seconds();
    if (job->op == GW_ECW_SIGN)
        job->rc = gw_ec_sign(job->key, job->n, job->digests, job->dlen, job->sigs,
                             job->sig_stride, job->sig_lens, job->status);
    else if (job->op == GW_ECW_VERIFY)
        job->rc = gw_ec_verify(job->key, job->n, job->digests, job->dlen, job->in_sigs,
                               job->in_sig_lens, job->results);
    else
        job->rc = GW_ERR_ARGUMENT;
    job->seconds = now_seconds() - started;
}

static void *work(void *arg)
{
    gw_ecw *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (w->queued_head == NULL && !w->stopping)
            pthread_cond_wait(&w->wake, &w->lock);
        if (w->queued_head == NULL) /* stopping, and nothing left to do */
            break;
        gw_ec_job *job = w->queued_head;
        w->queued_head = job->next;
        if (w->queued_head == NULL)
            w->queued_tail = NULL;
        pthread_mutex_unlock(&w->lock);

        run_job(job);

        pthread_mutex_lock(&w->lock);
        push(&w->done_head, &w->done_tail, job);
        uint64_t one = 1;
        /* Only EAGAIN can fail here (the counter at its maximum): the loop is awake. */
        ssize_t written = write(w->event_fd, &one, sizeof(one));
        (void)written;
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

gw_ecw *gw_ecw_start(int *err)
{
    gw_ecw *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        *err = GW_ERR_INTERNAL;
        return NULL;
    }
    w->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->event_fd < 0) {
        free(w);
        *err = GW_ERR_INTERNAL;
        return NULL;
    }
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->wake, NULL);
    if (pthread_create(&w->thread, NULL, work, w) != 0) {
        close(w->event_fd);
        pthread_cond_destroy(&w->wake);
        pthread_mutex_destroy(&w->lock);
        free(w);
        *err = GW_ERR_INTERNAL;
        return NULL;
    }
    *err = GW_OK;
    return w;
}

/*
 * SCHED_IDLE: the thread runs only on a core nothing else wants, so with
 * spare cores it never preempts the event loop (whose wait for a signature
 * leaves a core idle for it). Set from the loop's thread; Linux only.
 */
int gw_ecw_set_idle(gw_ecw *w, int idle)
{
#ifdef SCHED_IDLE
    struct sched_param param = {0};
    int policy = idle ? SCHED_IDLE : SCHED_OTHER;
    return pthread_setschedparam(w->thread, policy, &param) == 0 ? GW_OK : GW_ERR_INTERNAL;
#else
    (void)w;
    (void)idle;
    return GW_ERR_UNSUPPORTED;
#endif
}

int gw_ecw_fd(const gw_ecw *w)
{
    return w->event_fd;
}

int gw_ecw_submit(gw_ecw *w, gw_ec_job *job)
{
    if (job == NULL || job->key == NULL)
        return GW_ERR_ARGUMENT;
    pthread_mutex_lock(&w->lock);
    if (w->stopping) {
        pthread_mutex_unlock(&w->lock);
        return GW_ERR_ARGUMENT;
    }
    push(&w->queued_head, &w->queued_tail, job);
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    return GW_OK;
}

size_t gw_ecw_collect(gw_ecw *w, uint64_t *ids, size_t max)
{
    uint64_t count;
    /* Reset the counter first: a job finishing after it is collected now or wakes us again. */
    ssize_t got = read(w->event_fd, &count, sizeof(count));
    (void)got;
    size_t n = 0;
    pthread_mutex_lock(&w->lock);
    while (n < max && w->done_head != NULL) {
        gw_ec_job *job = w->done_head;
        w->done_head = job->next;
        if (w->done_head == NULL)
            w->done_tail = NULL;
        ids[n++] = job->id;
    }
    int more = w->done_head != NULL;
    pthread_mutex_unlock(&w->lock);
    if (more) { /* more than max finished: stay readable for the rest */
        uint64_t one = 1;
        ssize_t written = write(w->event_fd, &one, sizeof(one));
        (void)written;
    }
    return n;
}

void gw_ecw_stop(gw_ecw *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->lock);
    w->stopping = 1;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL); /* it finishes every queued job first */
    close(w->event_fd);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->lock);
    free(w);
}
