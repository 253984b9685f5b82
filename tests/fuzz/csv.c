/*
 * csv.c - fuzzes the CSV reader and writer (core/csv.c).
 *
 * The input is read record by record as an import reads an upload; every
 * field must lie within the reader's buffer, a bad record must name a
 * column it has, and line numbers never go back. The records read are then
 * written out again the way an export writes them and read back: the same
 * records, field for field, must come back (export then import loses
 * nothing).
 */
#include "fuzz.h"

#include "csv.h"

#include <string.h>

typedef struct rows {
    bo_buf text;             /* every good record, written as CSV */
    size_t count;
} rows;

static void put_len(bo_buf *b, size_t n)
{
    bo_buf_append(b, &n, sizeof n);
}

/* Reads every record of text: each good one goes into seen (its field
   count, then each field's length and bytes) and, when r is set, is
   written to r->text as an export writes it. */
static void read_all(const char *text, size_t len, rows *r, bo_buf *seen)
{
    bo_csv c;
    bo_csv_init(&c, text, len);
    bo_csv_record rec;
    unsigned long line = 0;
    int rc;
    while ((rc = bo_csv_next(&c, &rec)) != BO_CSV_END) {
        FUZZ_CHECK(rc == BO_CSV_ROW || rc == BO_CSV_BAD);
        FUZZ_CHECK(rec.line > line);
        line = rec.line;
        FUZZ_CHECK(c.pos <= c.len);
        if (rc == BO_CSV_BAD) {
            FUZZ_CHECK(rec.error != NULL);
            FUZZ_CHECK(rec.column >= 1 && rec.column <= c.nfields + 1);
            continue;
        }
        FUZZ_CHECK(c.nfields >= 1 && c.nfields <= BO_CSV_MAX_FIELDS);
        size_t start = r ? r->text.len : 0;
        put_len(seen, c.nfields);
        for (size_t i = 0; i < c.nfields; i++) {
            const char *f = bo_csv_field_ptr(&c, i);
            size_t n = c.fields[i].len;
            FUZZ_CHECK(c.fields[i].off + n <= c.buf.len);
            FUZZ_CHECK(bo_utf8_valid(f, n));
            put_len(seen, n);
            bo_buf_append(seen, f, n);
            if (r) {
                if (i)
                    bo_buf_putc(&r->text, ',');
                bo_csv_put_field(&r->text, f, n);
            }
        }
        if (r) {
            bo_csv_end_record(&r->text, start);
            r->count++;
        }
    }
    bo_csv_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rows r;
    bo_buf first, again;
    bo_buf_init(&r.text);
    r.count = 0;
    bo_buf_init(&first);
    bo_buf_init(&again);
    read_all((const char *)data, size, &r, &first);
    /* What was written reads back as the same records. */
    read_all(r.text.data, r.text.len, NULL, &again);
    FUZZ_CHECK(first.len == again.len);
    FUZZ_CHECK(first.len == 0 || memcmp(first.data, again.data, first.len) == 0);
    bo_buf_free(&r.text);
    bo_buf_free(&first);
    bo_buf_free(&again);
    return 0;
}
