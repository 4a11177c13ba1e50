/* SPDX-License-Identifier: MIT */
/*
 * handle_fork: handles and fork().  In the child the parent's handle
 * answers -EBADF and its mappings are not inherited; grant_close in the
 * parent frees the handle's memory at once even while a forked child still
 * holds copies of its descriptors.  libgrant keeps its pid cached: a child
 * made by _Fork (no atfork handlers run) must be seen as forked too, and a
 * child's own handle works.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/itest.h"

/* In a child: the parent's handle h answers -EBADF, a handle of its own
 * works (the pid libgrant caches is the child's, not the parent's). */
static char child_verdict(grant_handle_t *h)
{
    struct grant_usage cu;
    grant_handle_t *own;
    char ok;

    ok = grant_usage(h, GRANT_DOMID_SELF, &cu) == -EBADF;
    if (grant_open(&own, 0) != 0)
        return 0;
    ok = ok && grant_usage(own, GRANT_DOMID_SELF, &cu) == 0;
    grant_close(own);
    return ok;
}

/* A child made by _Fork, which runs no pthread_atfork handler. */
static int check_raw_fork(grant_handle_t *h)
{
    int status;
    pid_t pid;

    pid = _Fork();
    if (pid == 0)
        _exit(child_verdict(h) ? 0 : 1);
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return 0;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int main(void)
{
    grant_handle_t *dom0, *h, *h2;
    struct grant_usage u;
    int pipefd[2], status, rc;
    void *p, *q;
    char verdict = 0;
    grant_v1_ref_t v1ref = 0;
    struct itest_agent peer;
    void *v1p = NULL;
    pid_t pid;
    size_t big;

    itest_setup(&dom0);
    ICHECK(grant_usage(dom0, GRANT_DOMID_SELF, &u) == 0, "dom0 usage");
    big = (size_t)u.mem_frames * 3 / 4; /* most of dom0's memory */
    ICHECK(grant_open(&h, 0) == 0, "second dom0 handle");
    ICHECK(grant_mem_alloc(h, big, &p) == 0, "allocate %zu of %llu frames", big,
           (unsigned long long)u.mem_frames);
    memset(p, 0x5a, 4096);
    itest_spawn(dom0, &peer, "peer", 16);
    rc = grant_v1_share(h, peer.domid, 1, 0, &v1ref, &v1p);
    ICHECK(rc == 0, "a v1 share (%s)", grant_strerror(rc));
    if (pipe(pipefd) < 0)
        return 1;
    pid = fork();
    if (pid == 0) {
        struct grant_usage cu;
        struct grant_map_req mr = {.ref = 1, .len = 4096};
        void *r;

        /* The parent's handle is not usable here. */
        verdict = grant_usage(h, GRANT_DOMID_SELF, &cu) == -EBADF &&
                  grant_mem_alloc(h, 1, &r) == -EBADF &&
                  grant_map_batch(h, 1, &mr, 1, &r) == -EBADF &&
                  grant_unmap(h, p) == -EBADF &&
                  grant_map_revoked_fd(h) == -EBADF &&
                  grant_v1_end(h, v1p) == -EBADF &&
                  grant_v1_map(h, peer.domid, &v1ref, 1, 0, &r) == -EBADF &&
                  grant_v1_share(h, peer.domid, 1, 0, &v1ref, &r) == -EBADF &&
                  child_verdict(h);
        /* Keeps its copies of the handle's descriptors open. */
        if (write(pipefd[1], &verdict, 1) != 1)
            _exit(2);
        pause();
        _exit(0);
    }
    ICHECK(read(pipefd[0], &verdict, 1) == 1 && verdict == 1,
           "in a forked child the parent's handle answers -EBADF, its "
           "own works");
    ICHECK(check_raw_fork(h), "and so in a child of _Fork (no atfork "
                              "handlers)");
    grant_close(h);
    ICHECK(grant_open(&h2, 0) == 0, "a fresh handle");
    rc = grant_mem_alloc(h2, big, &q);
    ICHECK(rc == 0,
           "the closed handle's memory is free again while the "
           "child lives (alloc: %s)",
           rc ? grant_strerror(rc) : "ok");
    ICHECK(rc != 0 || ((unsigned char *)q)[0] == 0, "and handed out zeroed");
    grant_close(h2);
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    itest_agent_close(&peer);
    itest_teardown(dom0);
    return itest_done();
}
