/*
 * test_multipart.c - unit tests for multipart.c and csrf.c: a body parsed
 * whole and one byte at a time gives the same fields and files; boundaries
 * split across pieces; text fields; type judging from content (signatures,
 * DOCX/XLSX by the ZIP central directory, text); size limits; malformed and
 * unfinished bodies; temporary files removed unless kept. CSRF tokens: a
 * round trip, a wrong nonce or binding, expiry, malformed tokens, and the
 * key file's permissions.
 */
#include "csrf.h"
#include "multipart.h"
#include "unit.h"

#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/borough-mp-XXXXXX";
static char tmp[256], files[256];

#define B "XyZ-boundary-123"
#define CT "multipart/form-data; boundary=" B

static const char body[] =
    "preamble to ignore\r\n"
    "--" B "\r\n"
    "Content-Disposition: form-data; name=\"title\"\r\n\r\n"
    "Ann & \"Bob\"\r\n"
    "--" B "\r\n"
    "Content-Disposition: form-data; name=\"doc\"; filename=\"C:\\\\docs\\\\a \\\"b\\\".pdf\"\r\n"
    "Content-Type: application/pdf\r\n\r\n"
    "%PDF-1.4\r\n--XyZ-boundary-12 (almost a boundary)\r\n"
    "--" B "\r\n"
    "Content-Disposition: form-data; name=\"empty\"; filename=\"\"\r\n\r\n"
    "\r\n"
    "--" B "\r\n"
    "Content-Disposition: form-data; name=\"notes\"; filename=\"notes.csv\"\r\n\r\n"
    "a,b\r\n1,caf\xc3\xa9\r\n"
    "--" B "--\r\n"
    "epilogue\r\n";

static int count_dir(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static bo_multipart *parse(size_t piece, int *rc)
{
    bo_multipart *m;
    CHECK_EQ_INT(bo_multipart_new(&m, CT, strlen(CT), tmp, NULL, 0, 1000, BO_FILE_ALL), 0);
    size_t n = sizeof body - 1;
    *rc = 0;
    for (size_t i = 0; i < n && *rc == 0; i += piece)
        *rc = bo_multipart_feed(m, body + i, i + piece < n ? piece : n - i);
    return m;
}

static void check_parsed(bo_multipart *m)
{
    CHECK(bo_multipart_done(m));
    CHECK_EQ_INT(bo_multipart_nfields(m), 1);
    size_t len;
    const char *v = bo_multipart_field(m, "title", &len);
    CHECK_MEM(v, len, "Ann & \"Bob\"");
    CHECK(bo_multipart_field(m, "nothing", &len) == NULL);
    CHECK_EQ_INT(bo_multipart_nfiles(m), 2);      /* the empty input is not a file */
    if (bo_multipart_nfiles(m) != 2)
        return;
    bo_upload *doc = bo_multipart_file(m, 0);
    CHECK_STR(doc->field, "doc");
    CHECK_STR(doc->name, "a \"b\".pdf");
    CHECK_EQ_INT(doc->size, strlen("%PDF-1.4\r\n--XyZ-boundary-12 (almost a boundary)"));
    CHECK_EQ_INT(doc->type, BO_FILE_PDF);
    CHECK_EQ_INT(doc->error, BO_UPLOAD_OK);
    bo_upload *notes = bo_multipart_file(m, 1);
    CHECK_EQ_INT(notes->type, BO_FILE_CSV);
    CHECK_EQ_INT(notes->size, 12);
    CHECK_EQ_INT(count_dir(tmp), 2);
}

TEST(parses_whole_and_byte_by_byte_alike)
{
    size_t pieces[] = { sizeof body, 1, 2, 3, 7, 16, 17 };
    for (size_t i = 0; i < BO_COUNT(pieces); i++) {
        int rc;
        bo_multipart *m = parse(pieces[i], &rc);
        CHECK_EQ_INT(rc, 0);
        check_parsed(m);
        bo_multipart_free(m);
        CHECK_EQ_INT(count_dir(tmp), 0);     /* nothing kept: all removed */
    }
}

TEST(keeps_a_file_under_a_random_name)
{
    int rc;
    bo_multipart *m = parse(5, &rc);
    CHECK_EQ_INT(bo_multipart_keep(m, 0, files), 0);
    bo_upload *doc = bo_multipart_file(m, 0);
    char ref[80];
    snprintf(ref, sizeof ref, "%s", doc->ref);
    CHECK_EQ_INT(strlen(ref), 68);
    CHECK(strcmp(ref + 64, ".pdf") == 0);
    CHECK_EQ_INT(bo_multipart_keep(m, 0, files), BO_EINVAL);   /* already kept */
    bo_multipart_free(m);
    CHECK_EQ_INT(count_dir(tmp), 0);
    char *path = bo_sprintf("%s/%s", files, ref);
    CHECK(access(path, R_OK) == 0);
    free(path);
    CHECK_EQ_INT(count_dir(files), 2);   /* tmp/ and the kept file */
}

static bo_multipart *one_file(const char *name, const char *data, size_t n, uint64_t max, unsigned types)
{
    bo_upload_rule rule = { "f", max, types };
    bo_multipart *m;
    CHECK_EQ_INT(bo_multipart_new(&m, CT, strlen(CT), tmp, &rule, 1, 1 << 20, BO_FILE_ALL), 0);
    char *head = bo_sprintf("--" B "\r\nContent-Disposition: form-data; name=\"f\"; filename=\"%s\"\r\n\r\n", name);
    CHECK_EQ_INT(bo_multipart_feed(m, head, strlen(head)), 0);
    CHECK_EQ_INT(bo_multipart_feed(m, data, n), 0);
    CHECK_EQ_INT(bo_multipart_feed(m, "\r\n--" B "--", strlen(B) + 6), 0);
    CHECK(bo_multipart_done(m));
    free(head);
    return m;
}

#define S(lit) lit, sizeof(lit) - 1

TEST(judges_types_from_the_content)
{
    static const struct { const char *name; const char *data; size_t n; unsigned type; } cases[] = {
        { "x.png", S("\x89PNG\r\n\x1a\n\0\0"), BO_FILE_PNG },
        { "x.pdf", S("\xff\xd8\xff\xe0 jpeg"), BO_FILE_JPEG },
        { "x.txt", S("GIF89a...."), BO_FILE_GIF },
        { "x.pdf", S("<html>"), BO_FILE_TXT },
        { "x.csv", S("a,b\n"), BO_FILE_CSV },
        { "x.csv", S("a\0b"), 0 },
        { "x.txt", S("\xc3("), 0 },                    /* not UTF-8 */
        { "x.txt", S("caf\xc3"), 0 },                  /* cut in a character */
        { "x.csv", S("Zo\xeb,Smith\n"), BO_FILE_CSV },   /* a CSV saved as Latin-1: its rows judged by the import */
        { "x.csv", S("caf\xc3"), BO_FILE_CSV },
        { "x.csv", S("Zo\xeb\x01"), 0 },               /* control characters: not text in any encoding */
        { "x.txt", S("Zo\xeb"), 0 },
        { "x.exe", S("MZ\x90\0"), 0 },
        { "x.docx", S("PK\x03\x04 not really a zip"), 0 },
    };
    for (size_t i = 0; i < BO_COUNT(cases); i++) {
        bo_multipart *m = one_file(cases[i].name, cases[i].data, cases[i].n, 1000, BO_FILE_ALL);
        bo_upload *f = bo_multipart_file(m, 0);
        if (f->type != cases[i].type)
            printf("  case %zu: type %u, expected %u\n", i, f->type, cases[i].type);
        CHECK_EQ_INT(f->type, cases[i].type);
        CHECK_EQ_INT(f->error, cases[i].type ? BO_UPLOAD_OK : BO_UPLOAD_WRONG_TYPE);
        bo_multipart_free(m);
    }
    CHECK_EQ_INT(count_dir(tmp), 0);
}

/* A ZIP archive with one stored entry called name. */
static size_t make_zip(char *out, const char *name)
{
    size_t nl = strlen(name), p = 0;
    static const char local[] = "PK\x03\x04\x14\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";
    memcpy(out + p, local, 26);
    out[p + 26] = (char)nl;
    out[p + 27] = 0;
    out[p + 28] = out[p + 29] = 0;
    p += 30;
    memcpy(out + p, name, nl);
    p += nl;
    size_t cd = p;
    memset(out + p, 0, 46);
    memcpy(out + p, "PK\x01\x02", 4);
    out[p + 28] = (char)nl;
    p += 46;
    memcpy(out + p, name, nl);
    p += nl;
    size_t cd_size = p - cd;
    memset(out + p, 0, 22);
    memcpy(out + p, "PK\x05\x06", 4);
    out[p + 8] = out[p + 10] = 1;
    out[p + 12] = (char)cd_size;
    out[p + 16] = (char)cd;
    return p + 22;
}

TEST(judges_office_files_by_the_zip_directory)
{
    char zip[512];
    static const struct { const char *entry; unsigned type; } cases[] = {
        { "word/document.xml", BO_FILE_DOCX }, { "xl/workbook.xml", BO_FILE_XLSX }, { "other.xml", 0 },
    };
    for (size_t i = 0; i < BO_COUNT(cases); i++) {
        size_t n = make_zip(zip, cases[i].entry);
        bo_multipart *m = one_file("a.docx", zip, n, 1000, BO_FILE_DOCX | BO_FILE_XLSX);
        CHECK_EQ_INT(bo_multipart_file(m, 0)->type, cases[i].type);
        bo_multipart_free(m);
    }
}

TEST(holds_each_field_to_its_limits)
{
    char big[3000];
    memset(big, 'a', sizeof big);
    bo_multipart *m = one_file("a.txt", big, sizeof big, 2000, BO_FILE_TXT);
    bo_upload *f = bo_multipart_file(m, 0);
    CHECK_EQ_INT(f->error, BO_UPLOAD_TOO_LARGE);
    CHECK(f->tmp_path == NULL);
    CHECK_EQ_INT(count_dir(tmp), 0);
    CHECK_EQ_INT(bo_multipart_keep(m, 0, files), BO_EINVAL);
    bo_multipart_free(m);
    m = one_file("a.pdf", "%PDF-1.4", 8, 2000, BO_FILE_PNG);
    CHECK_EQ_INT(bo_multipart_file(m, 0)->error, BO_UPLOAD_WRONG_TYPE);
    bo_multipart_free(m);
    m = one_file("a.pdf", "", 0, 2000, BO_FILE_ALL);
    CHECK_EQ_INT(bo_multipart_file(m, 0)->error, BO_UPLOAD_EMPTY);
    bo_multipart_free(m);
}

/* A file over its limit reports its whole size, however the body arrives
   (found by tests/fuzz/multipart.c: it was the bytes up to the piece that
   crossed the limit). */
TEST(a_file_over_its_limit_reports_its_whole_size)
{
    char big[3000];
    memset(big, 'a', sizeof big);
    char *head = bo_sprintf("--" B "\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.txt\"\r\n\r\n");
    size_t pieces[] = { sizeof big, 1, 7, 1000, 1999 };
    for (size_t i = 0; i < BO_COUNT(pieces); i++) {
        bo_upload_rule rule = { "f", 2000, BO_FILE_TXT };
        bo_multipart *m;
        CHECK_EQ_INT(bo_multipart_new(&m, CT, strlen(CT), tmp, &rule, 1, 1 << 20, BO_FILE_ALL), 0);
        CHECK_EQ_INT(bo_multipart_feed(m, head, strlen(head)), 0);
        for (size_t at = 0; at < sizeof big; at += pieces[i])
            CHECK_EQ_INT(bo_multipart_feed(m, big + at, at + pieces[i] < sizeof big ? pieces[i] : sizeof big - at), 0);
        CHECK_EQ_INT(bo_multipart_feed(m, "\r\n--" B "--", strlen(B) + 6), 0);
        bo_upload *f = bo_multipart_file(m, 0);
        CHECK_EQ_INT(f->error, BO_UPLOAD_TOO_LARGE);
        CHECK_EQ_INT(f->size, sizeof big);
        bo_multipart_free(m);
    }
    free(head);
}

/* An empty text field's name and value point into the parser's text even
   when no field has a byte (they were NULL + 0). */
TEST(empty_fields_point_into_the_text)
{
    static const char part[] = "--" B "\r\nContent-Disposition: form-data; name=\"\"\r\n\r\n\r\n--" B "--";
    bo_multipart *m;
    CHECK_EQ_INT(bo_multipart_new(&m, CT, strlen(CT), tmp, NULL, 0, 100, BO_FILE_ALL), 0);
    CHECK_EQ_INT(bo_multipart_feed(m, part, sizeof part - 1), 0);
    CHECK_EQ_INT(bo_multipart_nfields(m), 1);
    const char *name = NULL, *value = NULL;
    size_t nlen = 1, vlen = 1;
    bo_multipart_field_at(m, 0, &name, &nlen, &value, &vlen);
    CHECK(name != NULL && value != NULL);
    CHECK_EQ_INT(nlen, 0);
    CHECK_EQ_INT(vlen, 0);
    bo_multipart_free(m);
}

TEST(refuses_malformed_and_unfinished_bodies)
{
    bo_multipart *m;
    CHECK_EQ_INT(bo_multipart_new(&m, "multipart/form-data", 19, tmp, NULL, 0, 100, BO_FILE_ALL), BO_EINVAL);
    CHECK_EQ_INT(bo_multipart_new(&m, "text/plain; boundary=x", 22, tmp, NULL, 0, 100, BO_FILE_ALL), BO_EINVAL);
    static const char *const bad[] = {
        "--" B "\r\nContent-Type: text/plain\r\n\r\nx\r\n--" B "--",               /* no name */
        "--" B "\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\nx\r\n--" B "--",
        "--" B "\r\n\r\nno headers\r\n--" B "--",
        "--" B "JUNK\r\n",
    };
    for (size_t i = 0; i < BO_COUNT(bad); i++) {
        CHECK_EQ_INT(bo_multipart_new(&m, CT, strlen(CT), tmp, NULL, 0, 100, BO_FILE_ALL), 0);
        CHECK_EQ_INT(bo_multipart_feed(m, bad[i], strlen(bad[i])), BO_EPARSE);
        CHECK_EQ_INT(bo_multipart_feed(m, "more", 4), BO_EPARSE);
        bo_multipart_free(m);
    }
    /* A file part cut short: not done, and its file goes with the parser. */
    CHECK_EQ_INT(bo_multipart_new(&m, CT, strlen(CT), tmp, NULL, 0, 100, BO_FILE_ALL), 0);
    const char *cut = "--" B "\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.txt\"\r\n\r\nhello";
    CHECK_EQ_INT(bo_multipart_feed(m, cut, strlen(cut)), 0);
    CHECK(!bo_multipart_done(m));
    CHECK_EQ_INT(count_dir(tmp), 1);
    bo_multipart_free(m);
    CHECK_EQ_INT(count_dir(tmp), 0);
    /* Too many parts. */
    CHECK_EQ_INT(bo_multipart_new(&m, CT, strlen(CT), tmp, NULL, 0, 100, BO_FILE_ALL), 0);
    int rc = 0;
    for (int i = 0; i <= BO_MULTIPART_MAX_PARTS && rc == 0; i++) {
        const char *part = "--" B "\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n";
        rc = bo_multipart_feed(m, part, strlen(part));
    }
    CHECK_EQ_INT(rc, BO_ELIMIT);
    bo_multipart_free(m);
}

TEST(csrf_tokens_round_trip_and_refuse_the_rest)
{
    unsigned char key[BO_CSRF_KEY_BYTES];
    char err[256], nonce[BO_CSRF_NONCE_LEN + 1], other[BO_CSRF_NONCE_LEN + 1], token[BO_CSRF_TOKEN_MAX];
    char *path = bo_sprintf("%s/csrf.key", dir);
    CHECK_EQ_INT(bo_csrf_key_load(path, key, err, sizeof err), 0);      /* made */
    struct stat st;
    CHECK_EQ_INT(stat(path, &st), 0);
    CHECK_EQ_INT(st.st_mode & 0777, 0600);
    CHECK_EQ_INT(st.st_size, BO_CSRF_KEY_BYTES);
    unsigned char again[BO_CSRF_KEY_BYTES];
    CHECK_EQ_INT(bo_csrf_key_load(path, again, err, sizeof err), 0);    /* read back */
    CHECK(memcmp(key, again, sizeof key) == 0);
    chmod(path, 0644);
    CHECK_EQ_INT(bo_csrf_key_load(path, again, err, sizeof err), BO_EPERM);
    free(path);

    bo_csrf_nonce(nonce);
    bo_csrf_nonce(other);
    CHECK(bo_csrf_nonce_ok(nonce, strlen(nonce)));
    CHECK(strcmp(nonce, other) != 0);
    CHECK(!bo_csrf_nonce_ok("XYZ", 3));
    bo_csrf_token(key, nonce, "", 1000000, token);
    CHECK_EQ_INT(bo_csrf_check(key, nonce, "", token, strlen(token), 1000000), 0);
    CHECK_EQ_INT(bo_csrf_check(key, nonce, "", token, strlen(token), 1000000 + BO_CSRF_MAX_AGE), 0);
    CHECK_EQ_INT(bo_csrf_check(key, nonce, "", token, strlen(token), 1000001 + BO_CSRF_MAX_AGE), BO_ETIMEDOUT);
    CHECK_EQ_INT(bo_csrf_check(key, nonce, "", token, strlen(token), 1000000 - 301), BO_ETIMEDOUT);
    CHECK_EQ_INT(bo_csrf_check(key, other, "", token, strlen(token), 1000000), BO_EINVAL);
    CHECK_EQ_INT(bo_csrf_check(key, nonce, "session-1", token, strlen(token), 1000000), BO_EINVAL);
    token[strlen(token) - 1] ^= 1;
    CHECK_EQ_INT(bo_csrf_check(key, nonce, "", token, strlen(token), 1000000), BO_EINVAL);
    static const char *const junk[] = { "", ".", "1000000", "1000000.", "abc.def", "1000000.0123" };
    for (size_t i = 0; i < BO_COUNT(junk); i++)
        CHECK_EQ_INT(bo_csrf_check(key, nonce, "", junk[i], strlen(junk[i]), 1000000), BO_EINVAL);
}

static const unit_case cases[] = {
    UNIT_CASE(parses_whole_and_byte_by_byte_alike)
    UNIT_CASE(keeps_a_file_under_a_random_name)
    UNIT_CASE(judges_types_from_the_content)
    UNIT_CASE(judges_office_files_by_the_zip_directory)
    UNIT_CASE(holds_each_field_to_its_limits)
    UNIT_CASE(a_file_over_its_limit_reports_its_whole_size)
    UNIT_CASE(empty_fields_point_into_the_text)
    UNIT_CASE(refuses_malformed_and_unfinished_bodies)
    UNIT_CASE(csrf_tokens_round_trip_and_refuse_the_rest)
};

int main(void)
{
    if (!mkdtemp(dir))
        return 2;
    snprintf(files, sizeof files, "%s/files", dir);
    snprintf(tmp, sizeof tmp, "%s/files/tmp", dir);
    int rc = UNIT_RUN("multipart", cases);
    char *cmd = bo_sprintf("rm -rf '%s'", dir);
    if (system(cmd) != 0)
        rc = 1;
    free(cmd);
    return rc;
}
