/* SPDX-License-Identifier: MIT */
/*
 * xs-txn: conditional store writes in one transaction, for the tests'
 * shell stand-ins (common/stub-back.sh), which cannot hold a transaction
 * across xenstore-read and xenstore-write.
 *
 *   xs-txn [-e PATH VALUE]... [-x PATH]... -- [PATH VALUE]...
 *
 * In one transaction: every -e PATH must read exactly VALUE and every -x
 * PATH must exist; then each PATH is written VALUE.  A transaction the
 * store aborted (EAGAIN: something changed meanwhile) is tried again, up
 * to 100 times, with the checks re-read.  Exit 0: written; 1: a check
 * failed (nothing written); 2: usage or store error (a message).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xenstore.h>

/* 1 when the checks hold in t, 0 when not. */
static int checks(struct xs_handle *xs, xs_transaction_t t, char **argv, int n)
{
    int i;

    for (i = 0; i < n;) {
        unsigned len;
        char *v = xs_read(xs, t, argv[i + 1], &len);
        int ok = v && (argv[i][1] == 'x' || !strcmp(v, argv[i + 2]));

        free(v);
        if (!ok)
            return 0;
        i += argv[i][1] == 'x' ? 2 : 3;
    }
    return 1;
}

int main(int argc, char **argv)
{
    struct xs_handle *xs;
    int i, nchk, tries;

    /* -e takes two arguments, -x one; then "--". */
    for (i = 1; i < argc && (!strcmp(argv[i], "-e") || !strcmp(argv[i], "-x"));)
        i += argv[i][1] == 'e' ? 3 : 2;
    if (i >= argc || strcmp(argv[i], "--") || (argc - i - 1) % 2) {
        fprintf(stderr, "usage: xs-txn [-e PATH VALUE]... [-x PATH]... -- "
                        "[PATH VALUE]...\n");
        return 2;
    }
    nchk = i - 1;
    xs = xs_open(0);
    if (!xs) {
        perror("xs-txn: xs_open");
        return 2;
    }
    for (tries = 0; tries < 100; tries++) {
        xs_transaction_t t = xs_transaction_start(xs);
        bool ok;
        int j;

        if (t == XBT_NULL) {
            perror("xs-txn: transaction_start");
            return 2;
        }
        ok = checks(xs, t, argv + 1, nchk);
        for (j = i + 1; ok && j < argc; j += 2)
            if (!xs_write(xs, t, argv[j], argv[j + 1], strlen(argv[j + 1]))) {
                fprintf(stderr, "xs-txn: write %s: %s\n", argv[j],
                        strerror(errno));
                xs_transaction_end(xs, t, true);
                return 2;
            }
        if (xs_transaction_end(xs, t, !ok)) {
            xs_close(xs);
            return ok ? 0 : 1;
        }
        if (errno != EAGAIN) {
            perror("xs-txn: transaction_end");
            return 2;
        }
    }
    fprintf(stderr, "xs-txn: 100 transactions aborted in a row\n");
    return 2;
}
