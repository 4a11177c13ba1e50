/* SPDX-License-Identifier: MIT */
/*
 * iofile.h: the file the grant-I/O unit tests (test_io, test_io_batch)
 * keep in memory: IOF_SIZE bytes of a known pattern, of which `size`
 * exist, moved to and from the pieces the core hands its host.
 */
#ifndef IOFILE_H
#define IOFILE_H

#include <stdint.h>
#include <string.h>

#include "gcore.h"

#define IOF_SIZE (64u * 1024)

static inline void iof_fill(uint8_t *data, uint64_t *size)
{
    for (unsigned i = 0; i < IOF_SIZE; i++)
        data[i] = (uint8_t)(i * 7 + 3);
    *size = IOF_SIZE;
}

/* Moves the bytes of iov at off (a READ stops at the end of the file, a
 * WRITE extends it, up to IOF_SIZE); the bytes moved. */
static inline long iof_move(uint8_t *data, uint64_t *size, unsigned dir,
                            uint64_t off, const struct gcore_iov *iov,
                            unsigned n)
{
    uint64_t end = dir == GNTX_IO_READ ? *size : IOF_SIZE;
    long moved = 0;

    for (unsigned i = 0; i < n; i++) {
        uint64_t k = iov[i].len;

        k = off >= end ? 0 : end - off < k ? end - off : k;
        if (dir == GNTX_IO_READ) {
            memcpy(iov[i].base, data + off, k);
        } else {
            memcpy(data + off, iov[i].base, k);
            *size = off + k > *size ? off + k : *size;
        }
        moved += (long)k;
        off += k;
        if (k < iov[i].len)
            break;
    }
    return moved;
}

#endif /* IOFILE_H */
