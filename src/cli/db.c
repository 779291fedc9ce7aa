/*
 * db.c - `jwtd db copy --from sqlite:PATH --to postgresql://... [--force]`: growing out of one
 * machine. Copies every row of a jwtd SQLite database into a PostgreSQL one migrated to the
 * same schema version, in one transaction, verifies each table (row count and checksum on
 * both sides) before it commits, and prints the result per table (db.h db_copy). The
 * databases are named on the command line, not by the configuration: the source is usually
 * the configured one and the target the next. Nothing else is touched (uploaded files live
 * in JWTD_UPLOAD_DIR and are copied with the file system).
 */
#define LOG_MODULE "cli"
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "db/db.h"
#include "runtime/audit.h"
#include "runtime/errtab.h"

static int db_copy_cmd(int argc, char **argv)
{
    const char *from = NULL, *to = NULL;
    bool force = false, quiet = false;
    const struct cli_opt opts[] = {
        {"from", 0, CLI_OPT_STRING, &from, "URL", "the SQLite database (sqlite:PATH)"},
        {"to", 0, CLI_OPT_STRING, &to, "URL", "the PostgreSQL database (postgresql://...)"},
        {"force", 0, CLI_OPT_FLAG, &force, NULL, "replace every row of a non-empty target"},
        {"quiet", 'q', CLI_OPT_FLAG, &quiet, NULL, "print only the summary line"},
        CLI_OPT_END,
    };
    struct cli_args args;
    int rc = cli_parse_args(argc, argv, opts, 0, "db copy --from URL --to URL [--force]", &args);
    if (rc != 0)
        return rc;
    if (!from || !*from || !to || !*to) {
        fprintf(stderr, "jwtd db copy: --from and --to are required\n");
        return CLI_EXIT_USAGE;
    }
    root_t *r = NULL;
    if ((rc = cli_root_open(argc, argv, 0, &r)) != 0)
        return rc;
    db_copy_report_t rep;
    char err[512];
    int e = db_copy(from, to, force, &rep, err, sizeof err);
    if (!quiet || e != 0) {
        if (rep.count)
            printf("%-20s %12s %12s  %-16s %s\n", "TABLE", "SOURCE_ROWS", "TARGET_ROWS", "CHECKSUM",
                   "RESULT");
        for (size_t i = 0; i < rep.count; i++) {
            const db_copy_table_t *t = &rep.tables[i];
            printf("%-20s %12lld %12lld  %.16s %s\n", t->table, (long long)t->source_rows,
                   (long long)t->target_rows, t->source_checksum, t->match ? "ok" : "DIFFERENT");
        }
    }
    long long rows = 0;
    for (size_t i = 0; i < rep.count; i++)
        rows += rep.tables[i].source_rows;
    if (e != 0) {
        fprintf(stderr, "jwtd db copy: %s (%s); no row was written to the target\n",
                err[0] ? err : "failed", err_name(e));
        audit_warn(NULL, .event = "db_copy", .outcome = "failure", .reason = err_name(e));
        rc = CLI_EXIT_FAILURE;
    } else {
        printf("copied %zu tables, %lld rows, schema version %d: counts and checksums match\n",
               rep.count, rows, rep.schema_version);
        char detail[64];
        snprintf(detail, sizeof detail, "tables=%zu rows=%lld", rep.count, rows);
        audit_info(NULL, .event = "db_copy", .outcome = "success", .detail = detail);
    }
    db_copy_report_dispose(&rep);
    root_close(r);
    return rc;
}

/* See cli.h. */
void cli_db_help(FILE *out)
{
    fprintf(out,
            "usage: jwtd db copy --from sqlite:PATH --to postgresql://USER@HOST/DB [--force]\n\n"
            "Copies every user, session, refresh token, revocation, audit record and resource\n"
            "row of a jwtd SQLite database into a PostgreSQL database, in one transaction:\n"
            "the target is migrated to the source's schema version first (the source must be\n"
            "at this jwtd's latest: run `jwtd migrate` on it), a target with rows is refused\n"
            "unless --force (which replaces them), identity sequences are moved past the\n"
            "copied ids, and before the commit each table's row count and checksum are\n"
            "compared on both sides; any difference rolls everything back. Stop the servers\n"
            "writing the source first. Uploaded files are not in the database: copy\n"
            "JWTD_UPLOAD_DIR with the file system.\n\n");
    cli_print_opts(
        out, (const struct cli_opt[]){
                 {"from", 0, CLI_OPT_STRING, NULL, "URL", "the SQLite database"},
                 {"to", 0, CLI_OPT_STRING, NULL, "URL", "the PostgreSQL database"},
                 {"force", 0, CLI_OPT_FLAG, NULL, NULL, "replace every row of a non-empty target"},
                 {"quiet", 'q', CLI_OPT_FLAG, NULL, NULL, "print only the summary"},
                 CLI_OPT_END,
             });
}

/* See cli.h. */
int cli_db(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "copy") != 0) {
        if (argc >= 2)
            fprintf(stderr, "jwtd db: unknown subcommand %s (copy)\n", argv[1]);
        cli_db_help(stderr);
        return CLI_EXIT_USAGE;
    }
    char name[] = "db copy";
    char **sub = calloc((size_t)argc, sizeof *sub);
    if (!sub)
        return CLI_EXIT_FAILURE;
    for (int i = 1; i < argc; i++)
        sub[i - 1] = argv[i];
    sub[0] = name;
    int rc = db_copy_cmd(argc - 1, sub);
    free(sub);
    return rc;
}
