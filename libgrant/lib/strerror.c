/* SPDX-License-Identifier: MIT */
/* strerror.c: names of the errnos libgrant returns. */
#include <errno.h>

#include "private.h"

#define NAME(e)                                                                \
    {                                                                          \
        e, #e                                                                  \
    }
static const struct {
    int err;
    const char *name;
} names[] = {
    NAME(EPERM),    NAME(ENOENT),       NAME(ESRCH),        NAME(EINTR),
    NAME(EIO),      NAME(E2BIG),        NAME(EBADF),        NAME(ECHILD),
    NAME(EAGAIN),   NAME(ENOMEM),       NAME(EACCES),       NAME(EFAULT),
    NAME(EBUSY),    NAME(EEXIST),       NAME(ENODEV),       NAME(EINVAL),
    NAME(ENFILE),   NAME(EMFILE),       NAME(ENOSPC),       NAME(EPIPE),
    NAME(ERANGE),   NAME(ENAMETOOLONG), NAME(ENOSYS),       NAME(ELOOP),
    NAME(EPROTO),   NAME(EOVERFLOW),    NAME(EILSEQ),       NAME(ENOTSOCK),
    NAME(ENOTCONN), NAME(ECONNRESET),   NAME(ECONNREFUSED), NAME(ETIMEDOUT),
    NAME(ESTALE),   NAME(ECANCELED),
};

const char *grant_strerror(int err)
{
    size_t i;

    if (err == 0)
        return "OK";
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (names[i].err == err || names[i].err == -err)
            return names[i].name;
    return "EUNKNOWN";
}
