/*
 * cmd_user.c - `borough user`: staff accounts and their roles in
 * data/borough.db, the command line's front end to accounts.h (the admin
 * console's People pages are the other).
 *
 *   borough user add EMAIL --name NAME [--password-file FILE]
 *   borough user password EMAIL [--password-file FILE]
 *   borough user role EMAIL APP ROLE [--remove]
 *   borough user list [SEARCH]
 *   borough user show EMAIL
 *   borough user disable EMAIL | enable EMAIL
 *   borough user 2fa-reset EMAIL
 *   borough user sessions-end EMAIL
 *
 * every one with [--data DIR]. A password is never an argument (it would
 * show in `ps` and the shell's history): it is asked for with echo off on a
 * terminal, read from the first line of FILE, or from the first line of
 * standard input when that is not a terminal. It must pass the policy of
 * password.h and is stored as an argon2id hash. A new password, and
 * disabling an account, end the account's sessions. 2fa-reset forgets an
 * account's two-factor secret and recovery codes (a lost phone): it sets
 * up new ones at its next sign-in if it must have them, and its sessions
 * end. sessions-end signs the account out everywhere. Every change goes to
 * the platform audit log, naming the operating-system user who made it.
 */
#include "accounts.h"
#include "cli.h"
#include "password.h"
#include "platformdb.h"
#include "session.h"
#include "sso.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

/* Reads one line (without its line end) into buf; false at end of input. */
static bool read_line(FILE *f, char *buf, size_t cap)
{
    if (!fgets(buf, (int)cap, f))
        return false;
    buf[strcspn(buf, "\r\n")] = '\0';
    return true;
}

/* Asks on the terminal with echo off (turned off before the prompt shows,
   so nothing typed after it is lost or shown). */
static bool prompt_hidden(const char *prompt, char *buf, size_t cap)
{
    struct termios old, quiet;
    bool echo_off = tcgetattr(STDIN_FILENO, &old) == 0;
    if (echo_off) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        quiet.c_lflag |= ECHONL;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    fputs(prompt, stderr);
    fflush(stderr);
    bool ok = read_line(stdin, buf, cap);
    if (echo_off)
        tcsetattr(STDIN_FILENO, TCSANOW, &old);
    return ok;
}

/* The new password, from file, the terminal (asked twice) or stdin.
   Returns 0, or 1 after saying why. */
static int get_password(const bo_cli *cli, const char *file, char *buf, size_t cap)
{
    if (file) {
        FILE *f = fopen(file, "r");
        if (!f)
            return bo_cli_fail(cli, "%s: %s", file, strerror(errno));
        bool ok = read_line(f, buf, cap);
        fclose(f);
        if (!ok)
            return bo_cli_fail(cli, "%s: the file is empty; put the password on its first line", file);
        return 0;
    }
    if (isatty(STDIN_FILENO)) {
        char again[BO_PASSWORD_MAX + 8];
        if (!prompt_hidden("Password: ", buf, cap) || !prompt_hidden("Password again: ", again, sizeof again))
            return bo_cli_fail(cli, "no password given");
        bool same = strcmp(buf, again) == 0;
        memset(again, 0, sizeof again);
        if (!same)
            return bo_cli_fail(cli, "the passwords do not match");
        return 0;
    }
    if (!read_line(stdin, buf, cap))
        return bo_cli_fail(cli, "no password on standard input");
    return 0;
}

/* Gets the new password (get_password), checks it against the policy and
   hashes it; returns a new hash or NULL after saying why. */
static char *new_hash(const bo_cli *cli, const char *file, const char *email)
{
    char password[BO_PASSWORD_MAX + 8];
    if (get_password(cli, file, password, sizeof password))
        return NULL;
    size_t len = strlen(password);
    const char *problem = bo_password_problem(password, len, email);
    char err[256];
    char *hash = problem ? NULL : bo_password_hash(password, len, err, sizeof err);
    memset(password, 0, sizeof password);
    if (!hash)
        bo_cli_fail(cli, "%s", problem ? problem : err);
    return hash;
}

static int user_add(const bo_cli *cli, bo_db *db, const char *email, const char *name, const char *file)
{
    char who[80], err[512];
    if (!bo_account_email_valid(email))
        return bo_cli_fail(cli, "%s is not an email address such as jo.bloggs@example.gov.uk", email);
    if (!name || !*name)
        return bo_cli_usage(cli, "user add needs --name NAME");
    if (strlen(name) > BO_ACCOUNT_NAME_MAX)
        return bo_cli_fail(cli, "the name is longer than %d characters", BO_ACCOUNT_NAME_MAX);
    if (bo_account_get(db, email, NULL, NULL, err, sizeof err) == 0)
        return bo_cli_fail(cli, "there is already an account for %s", email);
    char *hash = new_hash(cli, file, email);
    if (!hash)
        return 1;
    int rc = bo_account_add(db, bo_cli_who(who, sizeof who), email, name, hash, err, sizeof err);
    free(hash);
    if (rc < 0)
        return bo_cli_fail(cli, "%s", err);
    printf("Added %s (%s)\n", email, name);
    return 0;
}

static int user_password(const bo_cli *cli, bo_db *db, const char *email, const char *file)
{
    char who[80], err[512];
    if (bo_account_get(db, email, NULL, NULL, err, sizeof err) < 0)
        return bo_cli_fail(cli, "%s", err);
    char *hash = new_hash(cli, file, email);
    if (!hash)
        return 1;
    int rc = bo_account_set_password(db, bo_cli_who(who, sizeof who), email, hash, err, sizeof err);
    free(hash);
    if (rc < 0)
        return bo_cli_fail(cli, "%s", err);
    printf("New password for %s; their sessions have ended\n", email);
    return 0;
}

static int user_role(const bo_cli *cli, bo_db *db, const char *email, const char *app, const char *role,
                     bool remove)
{
    char who[80], err[512];
    bool changed;
    if (bo_account_set_role(db, bo_cli_who(who, sizeof who), email, app, role, remove, &changed, err,
                            sizeof err) < 0)
        return bo_cli_fail(cli, "%s", err);
    if (!changed)
        printf(remove ? "%s did not have the role %s in %s\n" : "%s already has the role %s in %s\n", email, role,
               app);
    else
        printf(remove ? "%s no longer has the role %s in %s\n" : "%s has the role %s in %s\n", email, role, app);
    return 0;
}

static int print_account(void *ud, const bo_account *a)
{
    int *n = ud;
    printf("%s\t%s\t%s\t%s\n", a->email, a->name, a->disabled ? "disabled" : "active", a->roles ? a->roles : "-");
    (*n)++;
    return 0;
}

static int user_list(const bo_cli *cli, bo_db *db, const char *search)
{
    char err[512];
    int n = 0;
    if (bo_accounts_list(db, search, 0, UINT32_MAX, print_account, &n, NULL, err, sizeof err) < 0)
        return bo_cli_fail(cli, "%s", err);
    if (n == 0 && !search)
        printf("No accounts yet: borough user add EMAIL --name NAME\n");
    return 0;
}

static void put_time(const char *label, int64_t ms)
{
    char when[32];
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tm);
    printf("%s%s\n", label, when);
}

static int print_details(void *ud, const bo_account *a)
{
    *(int64_t *)ud = a->id;
    printf("%s\t%s\n", a->email, a->name);
    printf("state: %s\n", a->disabled ? "disabled" : "active");
    printf("signs in with: %s%s%s\n", a->password ? "a password" : "", a->password && a->sso ? " and " : "",
           a->sso ? "single sign-on" : !a->password ? "nothing yet" : "");
    printf("two-factor codes: %s\n", a->two_factor ? "set up" : "not set up");
    put_time("account made: ", a->created_ms);
    printf("sessions: %d\n", a->sessions);
    if (a->seen_ms)
        put_time("last active: ", a->seen_ms);
    return 0;
}

static int print_role(void *ud, const char *app, const char *role, const char *source)
{
    BO_UNUSED(ud);
    printf("role: %s %s (%s%s)\n", app, role, source ? "from single sign-on: " : "given by hand",
           source && strncmp(source, "sso ", 4) == 0 ? source + 4 : source ? source : "");
    return 0;
}

static int user_show(const bo_cli *cli, bo_db *db, const char *email)
{
    char err[512];
    int64_t id = 0;
    if (bo_account_get(db, email, print_details, &id, err, sizeof err) < 0 ||
        bo_account_roles(db, id, print_role, NULL, err, sizeof err) < 0)
        return bo_cli_fail(cli, "%s", err);
    return 0;
}

static int user_disable(const bo_cli *cli, bo_db *db, const char *email, bool disable)
{
    char who[80], err[512];
    if (bo_account_set_disabled(db, bo_cli_who(who, sizeof who), email, disable, err, sizeof err) < 0)
        return bo_cli_fail(cli, "%s", err);
    printf(disable ? "Disabled %s; their sessions have ended\n" : "Enabled %s\n", email);
    return 0;
}

static int user_2fa_reset(const bo_cli *cli, bo_db *db, const char *email)
{
    char who[80], err[512];
    if (bo_account_reset_two_factor(db, bo_cli_who(who, sizeof who), email, err, sizeof err) < 0)
        return bo_cli_fail(cli, "%s", err);
    printf("Two-factor codes of %s forgotten; their sessions have ended\n", email);
    return 0;
}

static int user_sessions_end(const bo_cli *cli, bo_db *db, const char *email)
{
    char who[80], err[512];
    int n;
    if (bo_account_end_sessions(db, bo_cli_who(who, sizeof who), email, &n, err, sizeof err) < 0)
        return bo_cli_fail(cli, "%s", err);
    printf("%s is signed out everywhere (%d session%s ended)\n", email, n, n == 1 ? "" : "s");
    return 0;
}

int bo_cmd_user(int argc, char **argv, const bo_cli *cli)
{
    const char *data = "data", *name = NULL, *file = NULL;
    const char *pos[4];
    int npos = 0;
    bool remove = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--remove") == 0) {
            remove = true;
        } else if (strcmp(a, "--data") == 0 || strcmp(a, "--name") == 0 || strcmp(a, "--password-file") == 0) {
            if (i + 1 >= argc)
                return bo_cli_usage(cli, "%s needs a value", a);
            *(a[2] == 'd' ? &data : a[2] == 'n' ? &name : &file) = argv[++i];
        } else if (strcmp(a, "--password") == 0) {
            return bo_cli_usage(cli, "a password is never an argument: use --password-file FILE, "
                                     "standard input, or answer the prompt");
        } else if (a[0] == '-') {
            return bo_cli_usage(cli, "unknown option %s", a);
        } else if (npos < 4) {
            pos[npos++] = a;
        } else {
            return bo_cli_usage(cli, "too many arguments");
        }
    }
    if (npos == 0)
        return bo_cli_usage(cli, "which: add, password, role, list, show, disable, enable, 2fa-reset or "
                                 "sessions-end?");
    const char *sub = pos[0];
    static const struct { const char *name; int args; } subs[] = {
        { "add", 1 }, { "password", 1 }, { "role", 3 }, { "list", 0 }, { "show", 1 }, { "disable", 1 },
        { "enable", 1 }, { "2fa-reset", 1 }, { "sessions-end", 1 },
    };
    int want = -1;
    for (size_t i = 0; i < BO_COUNT(subs); i++)
        if (strcmp(sub, subs[i].name) == 0)
            want = subs[i].args;
    if (want < 0)
        return bo_cli_usage(cli, "unknown subcommand %s", sub);
    bool list = strcmp(sub, "list") == 0;        /* list [SEARCH] */
    if (npos - 1 != want && !(list && npos == 2))
        return bo_cli_usage(cli, "user %s takes %d argument%s", sub, want, want == 1 ? "" : "s");
    if (name && strcmp(sub, "add") != 0)
        return bo_cli_usage(cli, "--name goes with user add");
    if (file && strcmp(sub, "add") != 0 && strcmp(sub, "password") != 0)
        return bo_cli_usage(cli, "--password-file goes with user add or user password");
    if (remove && strcmp(sub, "role") != 0)
        return bo_cli_usage(cli, "--remove goes with user role");

    bo_db *db;
    char err[512];
    if (bo_platformdb_open(&db, data, err, sizeof err) < 0)
        return bo_cli_fail(cli, "%s", err);
    int rc;
    if (strcmp(sub, "add") == 0)
        rc = user_add(cli, db, pos[1], name, file);
    else if (strcmp(sub, "password") == 0)
        rc = user_password(cli, db, pos[1], file);
    else if (strcmp(sub, "role") == 0)
        rc = user_role(cli, db, pos[1], pos[2], pos[3], remove);
    else if (list)
        rc = user_list(cli, db, npos == 2 ? pos[1] : NULL);
    else if (strcmp(sub, "show") == 0)
        rc = user_show(cli, db, pos[1]);
    else if (strcmp(sub, "2fa-reset") == 0)
        rc = user_2fa_reset(cli, db, pos[1]);
    else if (strcmp(sub, "sessions-end") == 0)
        rc = user_sessions_end(cli, db, pos[1]);
    else
        rc = user_disable(cli, db, pos[1], strcmp(sub, "disable") == 0);
    bo_db_close(db);
    return rc;
}
