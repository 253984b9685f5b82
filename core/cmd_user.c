/*
 * cmd_user.c - `borough user`: staff accounts and their roles in
 * data/borough.db.
 *
 *   borough user add EMAIL --name NAME [--password-file FILE]
 *   borough user password EMAIL [--password-file FILE]
 *   borough user role EMAIL APP ROLE [--remove]
 *   borough user list
 *   borough user disable EMAIL | enable EMAIL
 *   borough user 2fa-reset EMAIL
 *
 * every one with [--data DIR]. A password is never an argument (it would
 * show in `ps` and the shell's history): it is asked for with echo off on a
 * terminal, read from the first line of FILE, or from the first line of
 * standard input when that is not a terminal. It must pass the policy of
 * password.h and is stored as an argon2id hash. A new password, and
 * disabling an account, end the account's sessions. 2fa-reset forgets an
 * account's two-factor secret and recovery codes (a lost phone): it sets
 * up new ones at its next sign-in if it must have them, and its sessions
 * end. Every change goes to the platform audit log, naming the
 * operating-system user who made it.
 */
#include "cli.h"
#include "password.h"
#include "platformdb.h"
#include "session.h"
#include "sso.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define NAME_MAX_LEN 200

static const char *operator_name(char *buf, size_t cap)
{
    struct passwd *pw = getpwuid(getuid());
    snprintf(buf, cap, "cli:%s", pw ? pw->pw_name : "unknown");
    return buf;
}

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

/* Runs sql with text parameters (NULL binds NULL); returns the changes, or
   -1 with err. */
static int run(bo_db *db, const char *sql, int n, const char *const *values, char *err, size_t errlen)
{
    bo_stmt *stmt = bo_db_prepare(db, sql, strlen(sql), err, errlen);
    if (!stmt)
        return -1;
    for (int i = 0; i < n; i++)
        bo_stmt_bind_text_copy(stmt, i + 1, values[i], -1);
    int rc = bo_stmt_step(stmt);
    if (rc != BO_DB_DONE && rc != BO_DB_ROW)
        snprintf(err, errlen, "%s", bo_db_errmsg(db));
    bo_stmt_reset(stmt);
    bo_stmt_clear(stmt);
    if (rc == BO_ECONSTRAINT)
        return -2;
    return rc == BO_DB_DONE || rc == BO_DB_ROW ? bo_db_changes(db) : -1;
}

/* The id of the account with email, or 0. */
static int64_t user_id(bo_db *db, const char *email)
{
    char err[256];
    static const char sql[] = "SELECT id FROM users WHERE email = ?";
    bo_stmt *stmt = bo_db_prepare(db, sql, sizeof sql - 1, err, sizeof err);
    if (!stmt)
        return 0;
    bo_stmt_bind_text_copy(stmt, 1, email, -1);
    int64_t id = bo_stmt_step(stmt) == BO_DB_ROW ? bo_stmt_column_int64(stmt, 0) : 0;
    bo_stmt_reset(stmt);
    bo_stmt_clear(stmt);
    return id;
}

static int audit(const bo_cli *cli, bo_db *db, const char *action, const char *app, const char *detail)
{
    char who[80], err[512];
    if (bo_platformdb_audit(db, operator_name(who, sizeof who), action, app, detail, err, sizeof err) < 0)
        return bo_cli_fail(cli, "the platform audit log: %s", err);
    return 0;
}

static int user_add(const bo_cli *cli, bo_db *db, const char *email, const char *name, const char *file)
{
    if (!bo_account_email_valid(email))
        return bo_cli_fail(cli, "%s is not an email address such as jo.bloggs@example.gov.uk", email);
    if (!name || !*name)
        return bo_cli_usage(cli, "user add needs --name NAME");
    if (strlen(name) > NAME_MAX_LEN)
        return bo_cli_fail(cli, "the name is longer than %d characters", NAME_MAX_LEN);
    if (user_id(db, email))
        return bo_cli_fail(cli, "there is already an account for %s", email);
    char *hash = new_hash(cli, file, email);
    if (!hash)
        return 1;
    char now[24], err[512];
    snprintf(now, sizeof now, "%lld", (long long)bo_unix_ms());
    const char *v[] = { email, name, hash, now };
    int n = run(db, "INSERT INTO users (email, name, password_hash, created_ms, password_ms) "
                    "VALUES (?1, ?2, ?3, ?4, ?4)", 4, v, err, sizeof err);
    free(hash);
    if (n == -2)
        return bo_cli_fail(cli, "there is already an account for %s", email);
    if (n < 0)
        return bo_cli_fail(cli, "%s", err);
    if (audit(cli, db, "user-add", NULL, email))
        return 1;
    printf("Added %s (%s)\n", email, name);
    return 0;
}

static int user_password(const bo_cli *cli, bo_db *db, const char *email, const char *file)
{
    int64_t id = user_id(db, email);
    if (!id)
        return bo_cli_fail(cli, "no account for %s", email);
    char *hash = new_hash(cli, file, email);
    if (!hash)
        return 1;
    char now[24], err[512];
    snprintf(now, sizeof now, "%lld", (long long)bo_unix_ms());
    const char *v[] = { hash, now, email };
    int n = run(db, "UPDATE users SET password_hash = ?1, password_ms = ?2 WHERE email = ?3", 3, v, err, sizeof err);
    free(hash);
    if (n < 0)
        return bo_cli_fail(cli, "%s", err);
    bo_session_end_user(db, id);
    if (audit(cli, db, "password-set", NULL, email))
        return 1;
    printf("New password for %s; their sessions have ended\n", email);
    return 0;
}

static int user_role(const bo_cli *cli, bo_db *db, const char *email, const char *app, const char *role,
                     bool remove)
{
    if (!bo_cli_app_name_ok(app))
        return bo_cli_fail(cli, "%s is not an app name (the app's folder name, such as grants)", app);
    if (!bo_cli_role_name_ok(role))
        return bo_cli_fail(cli, "%s is not a role name: lower-case letters, digits, '_' and '-', "
                                "starting with a letter", role);
    int64_t id = user_id(db, email);
    if (!id)
        return bo_cli_fail(cli, "no account for %s", email);
    char ids[24], err[512], detail[400];
    snprintf(ids, sizeof ids, "%lld", (long long)id);
    const char *v[] = { ids, app, role };
    int n = run(db, remove ? "DELETE FROM user_roles WHERE user_id = ?1 AND app = ?2 AND role = ?3"
                           : "INSERT OR IGNORE INTO user_roles (user_id, app, role) VALUES (?1, ?2, ?3)",
                3, v, err, sizeof err);
    if (n < 0)
        return bo_cli_fail(cli, "%s", err);
    if (n == 0) {
        printf(remove ? "%s did not have the role %s in %s\n" : "%s already has the role %s in %s\n", email, role,
               app);
        return 0;
    }
    snprintf(detail, sizeof detail, "%s %s", email, role);
    if (audit(cli, db, remove ? "role-remove" : "role-add", app, detail))
        return 1;
    printf(remove ? "%s no longer has the role %s in %s\n" : "%s has the role %s in %s\n", email, role, app);
    return 0;
}

static int user_list(const bo_cli *cli, bo_db *db)
{
    static const char sql[] =
        "SELECT u.email, u.name, u.disabled, "
        "(SELECT group_concat(app || ':' || role, ', ') FROM "
        "  (SELECT app, role FROM user_roles WHERE user_id = u.id ORDER BY app, role)) "
        "FROM users u ORDER BY u.email";
    char err[512];
    bo_stmt *stmt = bo_db_prepare(db, sql, sizeof sql - 1, err, sizeof err);
    if (!stmt)
        return bo_cli_fail(cli, "%s", err);
    int rc, n = 0;
    while ((rc = bo_stmt_step(stmt)) == BO_DB_ROW) {
        const char *roles = (const char *)bo_stmt_column_text(stmt, 3);
        printf("%s\t%s\t%s\t%s\n", bo_stmt_column_text(stmt, 0), bo_stmt_column_text(stmt, 1),
               bo_stmt_column_int64(stmt, 2) ? "disabled" : "active", roles ? roles : "-");
        n++;
    }
    bo_stmt_reset(stmt);
    if (rc != BO_DB_DONE)
        return bo_cli_fail(cli, "%s", bo_db_errmsg(db));
    if (n == 0)
        printf("No accounts yet: borough user add EMAIL --name NAME\n");
    return 0;
}

static int user_disable(const bo_cli *cli, bo_db *db, const char *email, bool disable)
{
    int64_t id = user_id(db, email);
    if (!id)
        return bo_cli_fail(cli, "no account for %s", email);
    char err[512];
    const char *v[] = { disable ? "1" : "0", email };
    if (run(db, "UPDATE users SET disabled = ?1 WHERE email = ?2", 2, v, err, sizeof err) < 0)
        return bo_cli_fail(cli, "%s", err);
    if (disable)
        bo_session_end_user(db, id);
    if (audit(cli, db, disable ? "user-disable" : "user-enable", NULL, email))
        return 1;
    printf(disable ? "Disabled %s; their sessions have ended\n" : "Enabled %s\n", email);
    return 0;
}

static int user_2fa_reset(const bo_cli *cli, bo_db *db, const char *email)
{
    int64_t id = user_id(db, email);
    if (!id)
        return bo_cli_fail(cli, "no account for %s", email);
    char ids[24], err[512];
    snprintf(ids, sizeof ids, "%lld", (long long)id);
    const char *v[] = { ids };
    int rc = bo_db_begin(db, err, sizeof err);
    if (rc == 0 && run(db, "UPDATE users SET totp_secret = NULL, totp_step = -1 WHERE id = ?1", 1, v, err,
                       sizeof err) < 0)
        rc = -1;
    if (rc == 0 && run(db, "DELETE FROM recovery_codes WHERE user_id = ?1", 1, v, err, sizeof err) < 0)
        rc = -1;
    if (rc == 0 && run(db, "DELETE FROM two_factor_pending WHERE user_id = ?1", 1, v, err, sizeof err) < 0)
        rc = -1;
    if (rc == 0 && bo_db_commit(db, err, sizeof err) < 0)
        rc = -1;
    if (rc < 0) {
        bo_db_rollback(db);
        return bo_cli_fail(cli, "%s", err);
    }
    bo_session_end_user(db, id);
    if (audit(cli, db, "two-factor-reset", NULL, email))
        return 1;
    printf("Two-factor codes of %s forgotten; their sessions have ended\n", email);
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
        return bo_cli_usage(cli, "which: add, password, role, list, disable, enable or 2fa-reset?");
    const char *sub = pos[0];
    static const struct { const char *name; int args; } subs[] = {
        { "add", 1 }, { "password", 1 }, { "role", 3 }, { "list", 0 }, { "disable", 1 }, { "enable", 1 },
        { "2fa-reset", 1 },
    };
    int want = -1;
    for (size_t i = 0; i < BO_COUNT(subs); i++)
        if (strcmp(sub, subs[i].name) == 0)
            want = subs[i].args;
    if (want < 0)
        return bo_cli_usage(cli, "unknown subcommand %s", sub);
    if (npos - 1 != want)
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
    else if (strcmp(sub, "list") == 0)
        rc = user_list(cli, db);
    else if (strcmp(sub, "2fa-reset") == 0)
        rc = user_2fa_reset(cli, db, pos[1]);
    else
        rc = user_disable(cli, db, pos[1], strcmp(sub, "disable") == 0);
    bo_db_close(db);
    return rc;
}
