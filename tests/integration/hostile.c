/* SPDX-License-Identifier: MIT */
/*
 * hostile: a guest that speaks the wire protocol by hand and breaks it;
 * a guest that uses others' refs and made-up refs.  It gets errors, and
 * xgrantd keeps serving the other domains throughout.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/itest.h"

/* The role run inside the "evil-proto" domain. */
static int hostile_role(void)
{
    grant_handle_t *h;
    char msg[256];
    int rc;

    rc = grant_open(&h, 0);
    if (rc < 0) {
        printf("err %d grant_open\n", rc);
        return 1;
    }
    rc = itest_hostile(h, msg, sizeof(msg));
    printf("%s %d %s\n", rc < 0 ? "err" : "ok", rc, msg);
    grant_close(h);
    return rc < 0;
}

int main(int argc, char **argv)
{
    char *role[] = {NULL, "--hostile", NULL};
    struct itest_agent a, b, evil, proto;
    grant_handle_t *dom0;
    uint64_t r;
    char buf[256];
    int rc;

    if (argc == 2 && strcmp(argv[1], "--hostile") == 0)
        return hostile_role();
    itest_setup(&dom0);
    itest_spawn(dom0, &a, "honest-a", 64);
    itest_spawn(dom0, &b, "honest-b", 64);
    itest_spawn(dom0, &evil, "evil", 64);

    itest_ok(&a, "alloc 1");
    itest_ok(&a, "fill 0 0 4096 3");
    r = itest_ok(&a, "grant %u r 0 0 4096", b.domid);

    role[0] = itest_self();
    itest_spawn_argv(dom0, &proto, "evil-proto", 64, role);
    rc = fgets(buf, sizeof(buf), proto.in) ? strncmp(buf, "ok", 2) : -1;
    ICHECK(rc == 0, "every malformed-protocol case got its error: %s", buf);
    itest_agent_close(&proto);

    /* Someone else's grant, made-up refs, a ref to a domain that isn't. */
    itest_ok(&evil, "alloc 1");
    itest_err(&evil, -EPERM, "copyfrom %u 0x%llx 0 0 0 16", a.domid,
              (unsigned long long)r);
    itest_err(&evil, -ENOENT, "copyfrom %u 0x%x 0 0 0 16", a.domid,
              (1u << 18) | 77u);
    itest_err(&evil, -ESRCH, "copyfrom 999 0x%llx 0 0 0 16",
              (unsigned long long)r);
    itest_err(&evil, -ENOENT, "revoke 0x%llx",
              (unsigned long long)r); /* not in its own table */
    itest_err(&evil, -EPERM, "delegate %u r %u 0x%llx 0 16", b.domid, a.domid,
              (unsigned long long)r);
    itest_err(&evil, -EINVAL, "grant %u r 0 0 0", a.domid);
    itest_err(&evil, -EINVAL, "grant %u r 0 0 16", evil.domid);
    itest_err(&evil, -ESRCH, "grant 999 r 0 0 16");
    {
        struct grant_entry_info e[4];
        ICHECK(grant_query_table(dom0, a.domid, e, 4) == 1,
               "A's table unchanged");
    }

    /* The honest pair never noticed. */
    itest_ok(&b, "alloc 1");
    itest_ok(&b, "copyfrom %u 0x%llx 0 0 0 4096", a.domid,
             (unsigned long long)r);
    itest_ok(&b, "check 0 0 4096 3");

    itest_agent_close(&a);
    itest_agent_close(&b);
    itest_agent_close(&evil);
    itest_teardown(dom0);
    return itest_done();
}
