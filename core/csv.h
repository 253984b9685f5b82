/*
 * csv.h - RFC 4180 CSV: a record-at-a-time reader over text held in memory
 * (a Lua string, or a file mapped by the import command) and a writer for
 * fields.
 *
 * Reading: fields are separated by commas and records by CRLF, LF or a lone
 * CR. A field in double quotes may hold commas, quotes (doubled) and line
 * breaks. A UTF-8 byte order mark at the start is skipped, and so are empty
 * lines. A quote inside an unquoted field is taken literally (as
 * spreadsheets and Python's csv module do). Each record knows the line it
 * starts on, so messages can say "line 12" even after quoted line breaks.
 *
 * A record that cannot be read whole is reported, not fatal: text after a
 * closing quote, a quote left open at the end of the file, bytes that are
 * not UTF-8, a NUL, too many fields or too many bytes. The record comes back
 * as BO_CSV_BAD with a message and the 1-based field where it went wrong,
 * and the reader carries on at the next line.
 */
#ifndef BO_CSV_H
#define BO_CSV_H

#include "bo.h"
#include "buf.h"

#define BO_CSV_MAX_FIELDS 4096
#define BO_CSV_MAX_RECORD (16u << 20)   /* bytes of one record */

typedef struct bo_csv_field {
    size_t off;                /* into the reader's buffer */
    size_t len;
} bo_csv_field;

typedef struct bo_csv {
    const char *data;          /* borrowed: the whole text */
    size_t len;
    size_t pos;                /* where the next record starts */
    unsigned long line;        /* the line it starts on (1-based) */
    bo_buf buf;                /* the current record's field bytes */
    bo_csv_field *fields;
    size_t nfields;
    size_t capfields;
} bo_csv;

enum {
    BO_CSV_END = 0,            /* no more records */
    BO_CSV_ROW = 1,            /* a record: fields in c->fields */
    BO_CSV_BAD = 2,            /* a record that could not be read */
};

typedef struct bo_csv_record {
    unsigned long line;        /* where the record starts */
    const char *error;         /* BO_CSV_BAD: why (a static string) */
    size_t column;             /* BO_CSV_BAD: the 1-based field it is about */
} bo_csv_record;

/* Starts reading text (borrowed: it must outlive the reader). */
void bo_csv_init(bo_csv *c, const char *text, size_t len);
void bo_csv_free(bo_csv *c);

/* Reads the next record. Returns BO_CSV_ROW (fields in c->fields, their
   bytes in c->buf), BO_CSV_BAD (rec->error and rec->column set) or
   BO_CSV_END. */
int bo_csv_next(bo_csv *c, bo_csv_record *rec);

/* The bytes of field i of the current record (never NULL, even when no
   field of the record has a byte). */
static inline const char *bo_csv_field_ptr(const bo_csv *c, size_t i)
{
    return c->buf.data + c->fields[i].off;
}

/* Appends one field to out, quoted when it holds a comma, a quote, a line
   break, or leading or trailing spaces, or begins with a byte order mark. */
void bo_csv_put_field(bo_buf *out, const char *s, size_t len);

/* Ends the record that starts at out->len == start (its fields written with
   bo_csv_put_field and commas) with CRLF. A record of one empty field is
   written as "": an empty line is no record at all to a reader. */
void bo_csv_end_record(bo_buf *out, size_t start);

/* Returns true if s[0..len) is well-formed UTF-8 without NUL bytes. */
bool bo_utf8_valid(const char *s, size_t len);

#endif
