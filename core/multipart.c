/*
 * multipart.c - streaming multipart/form-data (see multipart.h).
 *
 * The body is read through a window: incoming bytes are appended to it,
 * everything that can no longer be the start of a delimiter is consumed,
 * and at most the delimiter's length stays for the next piece. The window
 * starts with a CRLF of its own, so the first delimiter ("--boundary" at the
 * very start of the body) looks like every other ("\r\n--boundary").
 */
#include "multipart.h"
#include "buf.h"
#include "crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

enum { S_PREAMBLE, S_AFTER_DELIM, S_HEADERS, S_DATA, S_DONE, S_ERROR };

typedef struct text_field {
    size_t name, name_len, value, value_len;   /* offsets into text */
} text_field;

struct bo_multipart {
    int state;
    char delim[80];             /* "\r\n--" boundary */
    size_t delim_len;
    bo_buf win;                 /* bytes not yet consumed */
    unsigned parts;
    const char *error;
    char *tmp_dir;
    bo_upload_rule *rules;
    unsigned nrules;
    uint64_t default_max;
    unsigned default_types;
    /* the part being read */
    bool is_file;
    bool skip;                  /* a file input sent without a file */
    int fd;
    unsigned char head[16];     /* its first bytes, for the signature */
    size_t head_len;
    bool text_ok;               /* text without control characters so far */
    bool not_utf8;              /* ... with bytes that are not UTF-8 (Latin-1, Windows-1252) */
    int utf8_left;              /* continuation bytes still expected */
    /* results */
    bo_buf text;
    text_field *fields;
    unsigned nfields, cap_fields;
    bo_upload *files;
    unsigned nfiles, cap_files;
};

static const struct {
    unsigned bit;
    const char *name;
    const char *media;
} types[] = {
    { BO_FILE_PDF, "pdf", "application/pdf" },
    { BO_FILE_PNG, "png", "image/png" },
    { BO_FILE_JPEG, "jpeg", "image/jpeg" },
    { BO_FILE_GIF, "gif", "image/gif" },
    { BO_FILE_DOCX, "docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document" },
    { BO_FILE_XLSX, "xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" },
    { BO_FILE_CSV, "csv", "text/csv; charset=utf-8" },
    { BO_FILE_TXT, "txt", "text/plain; charset=utf-8" },
};

const char *bo_file_type_name(unsigned type)
{
    for (size_t i = 0; i < BO_COUNT(types); i++)
        if (types[i].bit == type)
            return types[i].name;
    return NULL;
}

const char *bo_file_type_media(unsigned type)
{
    for (size_t i = 0; i < BO_COUNT(types); i++)
        if (types[i].bit == type)
            return types[i].media;
    return NULL;
}

unsigned bo_file_type_of(const char *name)
{
    if (strcmp(name, "jpg") == 0)
        return BO_FILE_JPEG;
    for (size_t i = 0; i < BO_COUNT(types); i++)
        if (strcmp(types[i].name, name) == 0)
            return types[i].bit;
    return 0;
}

/* ---- construction ---- */

/* Finds the boundary parameter of a Content-Type value. */
static bool find_boundary(const char *ct, size_t n, char *out, size_t cap)
{
    const char *want = "multipart/form-data";
    size_t wl = strlen(want);
    if (n < wl || strncasecmp(ct, want, wl) != 0)
        return false;
    for (size_t i = wl; i + 9 <= n; i++) {
        if (strncasecmp(ct + i, "boundary=", 9) != 0 || (ct[i - 1] != ';' && ct[i - 1] != ' '))
            continue;
        const char *v = ct + i + 9;
        size_t len = 0, left = n - i - 9;
        if (left && v[0] == '"') {
            v++, left--;
            while (len < left && v[len] != '"')
                len++;
        } else {
            while (len < left && v[len] != ';' && v[len] != ' ')
                len++;
        }
        /* RFC 2046: 1 to 70 characters. */
        if (len == 0 || len > 70 || len + 1 > cap)
            return false;
        memcpy(out, v, len);
        out[len] = '\0';
        return true;
    }
    return false;
}

int bo_multipart_new(bo_multipart **out, const char *ct, size_t ct_len, const char *tmp_dir,
                     const bo_upload_rule *rules, unsigned nrules, uint64_t default_max, unsigned default_types)
{
    char boundary[72];
    *out = NULL;
    if (!find_boundary(ct, ct_len, boundary, sizeof boundary))
        return BO_EINVAL;
    bo_multipart *m = bo_calloc(1, sizeof *m);
    m->delim_len = (size_t)snprintf(m->delim, sizeof m->delim, "\r\n--%s", boundary);
    bo_buf_init(&m->win);
    bo_buf_init(&m->text);
    bo_buf_append(&m->win, "\r\n", 2);
    m->tmp_dir = bo_strdup(tmp_dir);
    if (nrules) {
        m->rules = bo_malloc(sizeof *rules * nrules);
        memcpy(m->rules, rules, sizeof *rules * nrules);
        m->nrules = nrules;
    }
    m->default_max = default_max;
    m->default_types = default_types;
    m->fd = -1;
    *out = m;
    return 0;
}

void bo_multipart_free(bo_multipart *m)
{
    if (!m)
        return;
    if (m->fd >= 0)
        close(m->fd);
    for (unsigned i = 0; i < m->nfiles; i++) {
        bo_upload *f = &m->files[i];
        if (f->tmp_path)
            unlink(f->tmp_path);
        free(f->tmp_path);
        free(f->field);
        free(f->name);
    }
    free(m->files);
    free(m->fields);
    free(m->rules);
    free(m->tmp_dir);
    bo_buf_free(&m->win);
    bo_buf_free(&m->text);
    free(m);
}

static int fail(bo_multipart *m, int rc, const char *why)
{
    m->state = S_ERROR;
    m->error = why;
    if (m->fd >= 0) {
        close(m->fd);
        m->fd = -1;
    }
    return rc;
}

/* ---- part headers ---- */

/* The value of parameter param (name or filename) in a Content-Disposition
   value, unquoted, as a new string; NULL if absent. */
static char *disposition_param(const char *v, size_t n, const char *param)
{
    size_t pl = strlen(param);
    for (size_t i = 0; i + pl + 1 < n; i++) {
        if ((i == 0 || v[i - 1] == ';' || v[i - 1] == ' ') && strncasecmp(v + i, param, pl) == 0 &&
            v[i + pl] == '=') {
            const char *p = v + i + pl + 1, *end = v + n;
            bo_buf b;
            bo_buf_init(&b);
            if (p < end && *p == '"') {
                /* Only \" is an escape: browsers send Windows paths with
                   plain backslashes. */
                for (p++; p < end && *p != '"'; p++) {
                    if (*p == '\\' && p + 1 < end && p[1] == '"')
                        p++;
                    bo_buf_putc(&b, *p);
                }
            } else {
                for (; p < end && *p != ';' && *p != ' '; p++)
                    bo_buf_putc(&b, *p);
            }
            bo_buf_putc(&b, '\0');
            return b.data;
        }
    }
    return NULL;
}

/* A file name as shown: its last path component, control characters
   dropped, at most 200 bytes. */
static char *clean_name(const char *raw)
{
    const char *base = raw;
    for (const char *p = raw; *p; p++)
        if (*p == '/' || *p == '\\')
            base = p + 1;
    char *out = bo_malloc(strlen(base) + 1);
    size_t n = 0;
    for (const char *p = base; *p && n < 200; p++)
        if ((unsigned char)*p >= 0x20 && *p != 0x7f)
            out[n++] = *p;
    out[n] = '\0';
    return out;
}

static const bo_upload_rule *rule_for(const bo_multipart *m, const char *field)
{
    for (unsigned i = 0; i < m->nrules; i++)
        if (strcmp(m->rules[i].field, field) == 0)
            return &m->rules[i];
    return NULL;
}

/* Writes n (at most 32) random bytes as 2n hex digits and a NUL. */
static int random_hex(char *out, size_t n)
{
    uint8_t raw[32];
    if (n > sizeof raw || bo_random(raw, n) < 0)
        return BO_EIO;
    bo_hex(raw, n, out);
    return 0;
}

static int open_temp(bo_multipart *m, bo_upload *f)
{
    if (mkdir(m->tmp_dir, 0700) != 0 && errno != EEXIST) {
        /* data/<app>/files/ may not exist yet either, nor data/<app>/ (on
           PostgreSQL no app.db made it): each missing folder, outermost first. */
        char *path = bo_strdup(m->tmp_dir);
        for (char *p = strchr(path + 1, '/'); p; p = strchr(p + 1, '/')) {
            *p = '\0';
            mkdir(path, 0700);
            *p = '/';
        }
        free(path);
        if (mkdir(m->tmp_dir, 0700) != 0 && errno != EEXIST)
            return BO_EIO;
    }
    char hex[33];
    if (random_hex(hex, 16) < 0)
        return BO_EIO;
    f->tmp_path = bo_sprintf("%s/upload-%s", m->tmp_dir, hex);
    m->fd = open(f->tmp_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (m->fd < 0) {
        free(f->tmp_path);
        f->tmp_path = NULL;
        return BO_EIO;
    }
    return 0;
}

/* Starts a part from its header block hdr[0..n) (without the blank line). */
static int begin_part(bo_multipart *m, const char *hdr, size_t n)
{
    if (++m->parts > BO_MULTIPART_MAX_PARTS)
        return fail(m, BO_ELIMIT, "too many parts");
    char *name = NULL, *filename = NULL;
    size_t i = 0;
    while (i < n) {
        const char *eol = memchr(hdr + i, '\r', n - i);
        size_t end = eol ? (size_t)(eol - hdr) : n;
        const char *line = hdr + i;
        size_t len = end - i;
        if (len > 20 && strncasecmp(line, "content-disposition:", 20) == 0) {
            const char *v = line + 20;
            size_t vl = len - 20;
            while (vl && *v == ' ')
                v++, vl--;
            if (vl < 9 || strncasecmp(v, "form-data", 9) != 0) {
                free(name);
                free(filename);
                return fail(m, BO_EPARSE, "a part that is not form-data");
            }
            free(name);
            free(filename);
            name = disposition_param(v, vl, "name");
            filename = disposition_param(v, vl, "filename");
        }
        i = end + 2;
    }
    if (!name) {
        free(filename);
        return fail(m, BO_EPARSE, "a part without a name");
    }
    m->is_file = filename != NULL;
    m->skip = false;
    if (!m->is_file) {
        if (m->nfields == m->cap_fields) {
            m->cap_fields = m->cap_fields ? 2 * m->cap_fields : 16;
            m->fields = bo_realloc(m->fields, sizeof *m->fields * m->cap_fields);
        }
        size_t nl = strlen(name);
        if (m->text.len + nl > BO_MULTIPART_MAX_TEXT) {
            free(name);
            return fail(m, BO_ELIMIT, "text fields too large");
        }
        bo_buf_reserve(&m->text, 1);   /* name and value point into it, even empty */
        text_field *tf = &m->fields[m->nfields++];
        tf->name = m->text.len;
        tf->name_len = nl;
        bo_buf_append(&m->text, name, nl);
        tf->value = m->text.len;
        tf->value_len = 0;
        free(name);
        return 0;
    }
    if (m->nfiles == m->cap_files) {
        m->cap_files = m->cap_files ? 2 * m->cap_files : 4;
        m->files = bo_realloc(m->files, sizeof *m->files * m->cap_files);
    }
    bo_upload *f = &m->files[m->nfiles++];
    memset(f, 0, sizeof *f);
    f->field = name;
    f->name = clean_name(filename);
    free(filename);
    const bo_upload_rule *rule = rule_for(m, f->field);
    f->max = rule ? rule->max : m->default_max;
    f->allowed = rule ? rule->types : m->default_types;
    m->head_len = 0;
    m->text_ok = true;
    m->not_utf8 = false;
    m->utf8_left = 0;
    if (f->name[0] == '\0') {
        m->skip = true;     /* an empty file input: nothing chosen */
        return 0;
    }
    if (open_temp(m, f) < 0)
        return fail(m, BO_EIO, "cannot write an uploaded file");
    return 0;
}

/* ---- part data ---- */

static bool ends_with_csv(const char *name)
{
    size_t n = strlen(name);
    return n >= 4 && strcasecmp(name + n - 4, ".csv") == 0;
}

/* Follows UTF-8 and control characters over data (a plain-text judge):
   a control character ends text_ok; a byte that breaks UTF-8 sets not_utf8
   and is judged afresh. */
static void judge_text(bo_multipart *m, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n && m->text_ok; i++) {
        unsigned char c = p[i];
        if (m->utf8_left) {
            if ((c & 0xc0) == 0x80) {
                m->utf8_left--;
                continue;
            }
            m->not_utf8 = true;
            m->utf8_left = 0;
        }
        if (c < 0x80) {
            if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f') || c == 0x7f)
                m->text_ok = false;
        } else if (c >= 0xc2 && c <= 0xdf) {
            m->utf8_left = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            m->utf8_left = 2;
        } else if (c >= 0xf0 && c <= 0xf4) {
            m->utf8_left = 3;
        } else {
            m->not_utf8 = true;
        }
    }
}

/* The text type of a judged file, or 0: UTF-8 text is a CSV (by its name)
   or plain text; a CSV may also be in an older 8-bit encoding, as lists
   saved by old spreadsheets are: its rows that are not UTF-8 are then
   refused one by one by the import ("save the file as CSV UTF-8"). */
static unsigned text_type(const bo_multipart *m, const char *name)
{
    if (!m->text_ok)
        return 0;
    bool utf8 = !m->not_utf8 && m->utf8_left == 0;
    if (ends_with_csv(name))
        return BO_FILE_CSV;
    return utf8 ? BO_FILE_TXT : 0;
}

static int part_data(bo_multipart *m, const char *data, size_t n)
{
    if (n == 0)
        return 0;
    if (!m->is_file) {
        if (m->text.len + n > BO_MULTIPART_MAX_TEXT)
            return fail(m, BO_ELIMIT, "text fields too large");
        bo_buf_append(&m->text, data, n);
        m->fields[m->nfields - 1].value_len += n;
        return 0;
    }
    bo_upload *f = &m->files[m->nfiles - 1];
    if (m->skip) {
        /* An empty name with content after all: judge it like any file. */
        if (f->tmp_path == NULL && f->error == BO_UPLOAD_OK && f->size == 0) {
            free(f->name);
            f->name = bo_strdup("file");
            m->skip = false;
            if (open_temp(m, f) < 0)
                return fail(m, BO_EIO, "cannot write an uploaded file");
        } else {
            return 0;
        }
    }
    if (f->error == BO_UPLOAD_TOO_LARGE) {
        f->size += n;       /* its whole size, however the body arrives */
        return 0;
    }
    if (f->size + n > f->max) {
        f->error = BO_UPLOAD_TOO_LARGE;
        f->size += n;
        close(m->fd);
        m->fd = -1;
        unlink(f->tmp_path);
        free(f->tmp_path);
        f->tmp_path = NULL;
        return 0;
    }
    if (m->head_len < sizeof m->head) {
        size_t k = sizeof m->head - m->head_len < n ? sizeof m->head - m->head_len : n;
        memcpy(m->head + m->head_len, data, k);
        m->head_len += k;
    }
    judge_text(m, (const unsigned char *)data, n);
    f->size += n;
    while (n > 0) {
        ssize_t w = write(m->fd, data, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return fail(m, BO_EIO, "cannot write an uploaded file");
        data += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The type from a file's first bytes; BO_FILE_DOCX | BO_FILE_XLSX for a
   ZIP archive, which the central directory decides. */
static unsigned signature_type(const unsigned char *h, size_t n)
{
    if (n >= 5 && memcmp(h, "%PDF-", 5) == 0)
        return BO_FILE_PDF;
    if (n >= 8 && memcmp(h, "\x89PNG\r\n\x1a\n", 8) == 0)
        return BO_FILE_PNG;
    if (n >= 3 && memcmp(h, "\xff\xd8\xff", 3) == 0)
        return BO_FILE_JPEG;
    if (n >= 6 && (memcmp(h, "GIF87a", 6) == 0 || memcmp(h, "GIF89a", 6) == 0))
        return BO_FILE_GIF;
    if (n >= 4 && memcmp(h, "PK\x03\x04", 4) == 0)
        return BO_FILE_DOCX | BO_FILE_XLSX;
    return 0;
}

static uint32_t le16(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t le32(const unsigned char *p) { return le16(p) | le16(p + 2) << 16; }

/* Reads n bytes at off; true if all were read. */
static bool read_at(int fd, void *buf, size_t n, off_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, (char *)buf + got, n - got, off + (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        got += (size_t)r;
    }
    return true;
}

/* DOCX, XLSX or 0, from a ZIP archive's central directory. */
static unsigned zip_type(int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size < 22)
        return 0;
    size_t tail = st.st_size < 65557 ? (size_t)st.st_size : 65557;
    unsigned char *buf = bo_malloc(tail);
    unsigned type = 0;
    if (!read_at(fd, buf, tail, st.st_size - (off_t)tail))
        goto out;
    size_t eocd = tail - 22 + 1;
    while (eocd-- > 0)
        if (memcmp(buf + eocd, "PK\x05\x06", 4) == 0)
            break;
    if (eocd == (size_t)-1)
        goto out;
    uint32_t cd_size = le32(buf + eocd + 12), cd_off = le32(buf + eocd + 16);
    if (cd_size > 4 * 1024 * 1024 || (uint64_t)cd_off + cd_size > (uint64_t)st.st_size)
        goto out;
    unsigned char *cd = bo_malloc(cd_size ? cd_size : 1);
    if (read_at(fd, cd, cd_size, (off_t)cd_off)) {
        for (size_t p = 0; p + 46 <= cd_size && memcmp(cd + p, "PK\x01\x02", 4) == 0;) {
            size_t nl = le16(cd + p + 28), xl = le16(cd + p + 30), cl = le16(cd + p + 32);
            if (p + 46 + nl > cd_size)
                break;
            const char *name = (const char *)cd + p + 46;
            if (nl > 5 && memcmp(name, "word/", 5) == 0)
                type = BO_FILE_DOCX;
            else if (nl > 3 && memcmp(name, "xl/", 3) == 0)
                type = BO_FILE_XLSX;
            if (type)
                break;
            p += 46 + nl + xl + cl;
        }
    }
    free(cd);
out:
    free(buf);
    return type;
}

static void end_part(bo_multipart *m)
{
    if (!m->is_file)
        return;
    bo_upload *f = &m->files[m->nfiles - 1];
    if (m->skip) {
        /* No file chosen: as if the input had not been sent. */
        free(f->field);
        free(f->name);
        m->nfiles--;
        return;
    }
    if (f->error == BO_UPLOAD_TOO_LARGE)
        return;
    unsigned t = 0;
    if (f->size == 0) {
        f->error = BO_UPLOAD_EMPTY;
    } else {
        t = signature_type(m->head, m->head_len);
        if (t == (BO_FILE_DOCX | BO_FILE_XLSX))
            t = zip_type(m->fd);
        else if (!t)
            t = text_type(m, f->name);
        f->type = t;
        if (!t || !(t & f->allowed))
            f->error = BO_UPLOAD_WRONG_TYPE;
    }
    close(m->fd);
    m->fd = -1;
    if (f->error != BO_UPLOAD_OK) {
        unlink(f->tmp_path);
        free(f->tmp_path);
        f->tmp_path = NULL;
    }
}

/* ---- the state machine ---- */

int bo_multipart_feed(bo_multipart *m, const char *data, size_t n)
{
    if (m->state == S_ERROR)
        return BO_EPARSE;
    if (m->state == S_DONE)
        return 0;                           /* the epilogue is ignored */
    bo_buf_append(&m->win, data, n);
    size_t pos = 0;
    int rc = 0;
    for (;;) {
        const char *w = m->win.data + pos;
        size_t left = m->win.len - pos;
        if (m->state == S_PREAMBLE || m->state == S_DATA) {
            const char *d = memmem(w, left, m->delim, m->delim_len);
            if (!d) {
                /* Keep what could be the start of a delimiter. */
                size_t keep = left < m->delim_len - 1 ? left : m->delim_len - 1;
                if (m->state == S_DATA && (rc = part_data(m, w, left - keep)) < 0)
                    return rc;
                pos += left - keep;
                break;
            }
            if (m->state == S_DATA) {
                if ((rc = part_data(m, w, (size_t)(d - w))) < 0)
                    return rc;
                end_part(m);
            }
            pos += (size_t)(d - w) + m->delim_len;
            m->state = S_AFTER_DELIM;
        } else if (m->state == S_AFTER_DELIM) {
            if (left < 2)
                break;
            if (w[0] == '-' && w[1] == '-') {
                m->state = S_DONE;
                pos = m->win.len;
                break;
            }
            if (w[0] != '\r' || w[1] != '\n')
                return fail(m, BO_EPARSE, "malformed boundary line");
            pos += 2;
            m->state = S_HEADERS;
        } else if (m->state == S_HEADERS) {
            const char *end = memmem(w, left, "\r\n\r\n", 4);
            /* A part with no header lines at all begins with the blank line. */
            if (left >= 2 && w[0] == '\r' && w[1] == '\n')
                return fail(m, BO_EPARSE, "a part without headers");
            if (!end) {
                if (left > BO_MULTIPART_MAX_HEAD)
                    return fail(m, BO_ELIMIT, "part headers too large");
                break;
            }
            if ((size_t)(end - w) > BO_MULTIPART_MAX_HEAD)
                return fail(m, BO_ELIMIT, "part headers too large");
            if ((rc = begin_part(m, w, (size_t)(end - w))) < 0)
                return rc;
            pos += (size_t)(end - w) + 4;
            m->state = S_DATA;
        } else {
            break;
        }
    }
    bo_buf_consume(&m->win, pos);
    return 0;
}

bool bo_multipart_done(const bo_multipart *m)
{
    return m->state == S_DONE;
}

const char *bo_multipart_error(const bo_multipart *m)
{
    return m->error ? m->error : (m->state == S_DONE ? "none" : "the body ended before its last boundary");
}

unsigned bo_multipart_nfields(const bo_multipart *m)
{
    return m->nfields;
}

void bo_multipart_field_at(const bo_multipart *m, unsigned i, const char **name, size_t *nlen,
                           const char **value, size_t *vlen)
{
    const text_field *f = &m->fields[i];
    *name = m->text.data + f->name;
    *nlen = f->name_len;
    *value = m->text.data + f->value;
    *vlen = f->value_len;
}

const char *bo_multipart_field(const bo_multipart *m, const char *name, size_t *len)
{
    size_t nl = strlen(name);
    for (unsigned i = 0; i < m->nfields; i++) {
        const text_field *f = &m->fields[i];
        if (f->name_len == nl && memcmp(m->text.data + f->name, name, nl) == 0) {
            *len = f->value_len;
            return m->text.data + f->value;
        }
    }
    return NULL;
}

unsigned bo_multipart_nfiles(const bo_multipart *m)
{
    return m->nfiles;
}

bo_upload *bo_multipart_file(bo_multipart *m, unsigned i)
{
    return i < m->nfiles ? &m->files[i] : NULL;
}

int bo_multipart_keep(bo_multipart *m, unsigned i, const char *files_dir)
{
    bo_upload *f = bo_multipart_file(m, i);
    if (!f || f->error != BO_UPLOAD_OK || !f->tmp_path)
        return BO_EINVAL;
    char hex[65];
    if (random_hex(hex, 32) < 0)
        return BO_EIO;
    snprintf(f->ref, sizeof f->ref, "%s.%s", hex, bo_file_type_name(f->type));
    char *dest = bo_sprintf("%s/%s", files_dir, f->ref);
    int rc = rename(f->tmp_path, dest) == 0 ? 0 : BO_EIO;
    free(dest);
    if (rc == 0) {
        free(f->tmp_path);
        f->tmp_path = NULL;
    } else {
        f->ref[0] = '\0';
    }
    return rc;
}
