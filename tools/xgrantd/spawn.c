/* SPDX-License-Identifier: MIT */
/*
 * spawn.c: starting a domain's process.
 *
 * fork + execvp with a close-on-exec pipe: the child writes its errno there
 * only if exec fails, so the parent learns the outcome without guessing.
 * The child leads a new session (so its whole tree can be found and
 * killed), dies with the daemon (PR_SET_PDEATHSIG), gets the three stdio
 * fds it was given (or /dev/null), an unblocked signal mask, and
 * XGRANT_SOCK / XGRANT_DOMID in its environment.  Every other daemon fd is
 * close-on-exec.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "private.h"

extern char **environ;

/* environ without our two variables, plus their values for this domain.
 * One allocation: free() the result. */
static char **build_env(uint16_t id)
{
    size_t n = 0, i, k = 0;
    char **env;
    char *strs;

    while (environ[n])
        n++;
    env = malloc((n + 3) * sizeof(char *) + 2 * 160);
    if (!env)
        return NULL;
    strs = (char *)(env + n + 3);
    for (i = 0; i < n; i++) {
        if (strncmp(environ[i], XGW_SOCK_ENV "=", sizeof(XGW_SOCK_ENV)) &&
            strncmp(environ[i], XGW_DOMID_ENV "=", sizeof(XGW_DOMID_ENV)))
            env[k++] = environ[i];
    }
    snprintf(strs, 160, "%s=%s", XGW_SOCK_ENV, xd.sock);
    snprintf(strs + 160, 160, "%s=%u", XGW_DOMID_ENV, id);
    env[k++] = strs;
    env[k++] = strs + 160;
    env[k] = NULL;
    return env;
}

/* In the child: fds[i] (or /dev/null when fds is NULL) onto 0, 1, 2. */
static int child_stdio(const int *fds)
{
    int tmp[3];

    for (int i = 0; i < 3; i++) {
        int src = fds ? fds[i] : open("/dev/null", O_RDWR | O_CLOEXEC);

        /* Above 2 first, so dup2 below never clobbers a source. */
        tmp[i] = src < 0 ? -1 : fcntl(src, F_DUPFD_CLOEXEC, 3);
        if (tmp[i] < 0)
            return -1;
    }
    for (int i = 0; i < 3; i++)
        if (dup2(tmp[i], i) < 0)
            return -1;
    return 0;
}

static void __attribute__((noreturn))
child(int errpipe, pid_t parent, char *const argv[], char **env, const int *fds)
{
    sigset_t none;
    int err;

    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    setsid();
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
        _exit(127);
    if (child_stdio(fds) < 0)
        goto fail;
    execvpe(argv[0], argv, env);
fail:
    err = errno;
    if (write(errpipe, &err, sizeof(err)) < 0)
        _exit(127);
    _exit(127);
}

/* What the child reported: 0 exec'd, else its errno. */
static int wait_exec(int rfd)
{
    int err = 0;
    ssize_t n;

    do
        n = read(rfd, &err, sizeof(err));
    while (n < 0 && errno == EINTR);
    return n == (ssize_t)sizeof(err) ? err : 0;
}

/*
 * Starts argv[0] (looked up in PATH) as domain d.  0 with d->pid and
 * d->pidfd set, or -errno: -ENOENT when the program could not be executed
 * (the reason is logged), else what failed.
 */
int xd_spawn(struct xd_dom *d, char *const argv[], const int *fds)
{
    char **env = build_env(d->id);
    pid_t parent = getpid(), pid;
    int p[2], err, pidfd;

    if (!env)
        return -ENOMEM;
    if (pipe2(p, O_CLOEXEC) < 0) {
        err = -errno;
        free(env);
        return err;
    }
    pid = fork();
    if (pid == 0)
        child(p[1], parent, argv, env, fds);
    err = pid < 0 ? -errno : 0;
    close(p[1]);
    free(env);
    if (!err && (err = wait_exec(p[0])) != 0) {
        xd_log_dom(d, "cannot run %s: %s", argv[0], strerror(err));
        waitpid(pid, NULL, 0);
        err = -ENOENT;
    }
    close(p[0]);
    if (err)
        return err;
    /* Without pidfds (Linux < 5.3, valgrind) SIGCHLD tells of exits. */
    pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pidfd < 0 && errno != ENOSYS) {
        err = -errno;
        xd_log_dom(d, "pidfd_open: %s", strerror(errno));
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return err;
    }
    d->pid = pid;
    d->pidfd = pidfd;
    return 0;
}
