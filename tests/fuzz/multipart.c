/*
 * multipart.c - fuzzes streaming multipart/form-data (core/multipart.c).
 *
 * The input is one byte of seed for the split points, one byte choosing the
 * boundary and the limits, then the body. It is parsed twice: all at once,
 * and in random pieces. The outcome (the first error and its reason,
 * whether the closing boundary came, every text field, and every file with
 * its name, size, type, error and the bytes written to its temporary file)
 * must be the same however the body arrives, and a temporary file exists
 * exactly while a file is good and not kept.
 */
#include "fuzz.h"

#include "multipart.h"
#include "buf.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const content_types[] = {
    "multipart/form-data; boundary=XyZ",
    "multipart/form-data; boundary=\"a b\"",
    "multipart/form-data; charset=utf-8; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW",
    "multipart/form-data; boundary=-",
};

static char tmp_dir[64];

static void put_bytes(bo_buf *o, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            bo_buf_putc(o, (char)c);
        else
            bo_buf_printf(o, "\\x%02x", c);
    }
}

/* Appends the content of a temporary file. */
static void put_file(bo_buf *o, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    FUZZ_CHECK(fd >= 0);
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        put_bytes(o, buf, (size_t)n);
    close(fd);
}

static void run(const char *data, size_t len, unsigned config, unsigned seed, bo_buf *o)
{
    const char *ct = content_types[config % BO_COUNT(content_types)];
    /* "small" holds 4 bytes of text, "pics" images; others 64 bytes of anything. */
    static const bo_upload_rule rules[] = {
        { "small", 4, BO_FILE_TXT | BO_FILE_CSV },
        { "pics", 1024, BO_FILE_PNG | BO_FILE_JPEG | BO_FILE_GIF },
    };
    bo_multipart *m;
    FUZZ_CHECK(bo_multipart_new(&m, ct, strlen(ct), tmp_dir, rules, 2, config & 4 ? 64 : 4096, BO_FILE_ALL) == 0);
    fuzz_rng rng;
    fuzz_rng_seed(&rng, seed);
    int rc = 0;
    for (size_t at = 0; at < len && rc == 0;) {
        size_t n = seed ? fuzz_rng_piece(&rng, len - at) : len;
        char *copy = bo_malloc(n);
        memcpy(copy, data + at, n);
        rc = bo_multipart_feed(m, copy, n);
        free(copy);
        at += n;
    }
    if (rc < 0) {
        FUZZ_CHECK(rc == BO_EPARSE || rc == BO_ELIMIT);
        FUZZ_CHECK(bo_multipart_feed(m, "x", 1) == BO_EPARSE);    /* nothing more after an error */
        bo_buf_printf(o, "error %d: %s\n", rc, bo_multipart_error(m));
    }
    bo_buf_printf(o, "done=%d\n", bo_multipart_done(m));
    for (unsigned i = 0; i < bo_multipart_nfields(m); i++) {
        const char *name, *value;
        size_t nlen, vlen;
        bo_multipart_field_at(m, i, &name, &nlen, &value, &vlen);
        bo_buf_puts(o, "field ");
        put_bytes(o, name, nlen);
        bo_buf_putc(o, '=');
        put_bytes(o, value, vlen);
        bo_buf_putc(o, '\n');
        char key[256];
        if (nlen < sizeof key) {
            size_t flen;
            memcpy(key, name, nlen);
            key[nlen] = '\0';
            FUZZ_CHECK(bo_multipart_field(m, key, &flen) != NULL);
        }
    }
    for (unsigned i = 0; i < bo_multipart_nfiles(m); i++) {
        const bo_upload *f = bo_multipart_file(m, i);
        FUZZ_CHECK(strlen(f->name) <= 200);
        for (const char *c = f->name; *c; c++)
            FUZZ_CHECK((unsigned char)*c >= 0x20 && *c != 0x7f && *c != '/' && *c != '\\');
        bo_buf_printf(o, "file %s name=%s size=%llu type=%u error=%d max=%llu allowed=%u\n", f->field, f->name,
                      (unsigned long long)f->size, f->type, f->error, (unsigned long long)f->max, f->allowed);
        if (f->error == BO_UPLOAD_TOO_LARGE)
            FUZZ_CHECK(f->size > f->max);
        else
            FUZZ_CHECK(f->size <= f->max);
        if (f->error != BO_UPLOAD_OK)
            FUZZ_CHECK(f->tmp_path == NULL);
        if (f->tmp_path) {
            struct stat st;
            FUZZ_CHECK(stat(f->tmp_path, &st) == 0 && (uint64_t)st.st_size == f->size);
            put_file(o, f->tmp_path);
            bo_buf_putc(o, '\n');
        }
    }
    bo_multipart_free(m);
}

static void remove_tmp(void)
{
    char path[64];
    snprintf(path, sizeof path, "%s", tmp_dir);
    for (int i = 0; i < 3; i++) {
        rmdir(path);
        char *slash = strrchr(path, '/');
        if (slash)
            *slash = '\0';
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!tmp_dir[0]) {
        snprintf(tmp_dir, sizeof tmp_dir, "/tmp/borough-fuzz-multipart-%d", (int)getpid());
        mkdir(tmp_dir, 0700);
        strcat(tmp_dir, "/files/tmp");
        atexit(remove_tmp);
    }
    unsigned seed = fuzz_take_byte(&data, &size);
    unsigned config = fuzz_take_byte(&data, &size);
    bo_buf whole, pieces;
    bo_buf_init(&whole);
    bo_buf_init(&pieces);
    run((const char *)data, size, config, 0, &whole);
    run((const char *)data, size, config, seed + 1, &pieces);
    bo_buf_putc(&whole, '\0');
    bo_buf_putc(&pieces, '\0');
    if (getenv("FUZZ_SHOW"))
        fputs(whole.data, stderr);
    FUZZ_CHECK_SAME(whole.data, pieces.data);
    bo_buf_free(&whole);
    bo_buf_free(&pieces);
    return 0;
}
