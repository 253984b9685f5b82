/*
 * test_csv.c - the CSV reader and writer (core/csv.c): RFC 4180 quoting,
 * line breaks of every kind, the byte order mark, line numbers of records
 * that span lines, and each kind of bad record with its exact message.
 */
#include "csv.h"
#include "unit.h"

#include <stdlib.h>

/* Reads all of text and renders it as "line:[a|b|c]" per record, or
   "line:BAD(column) message" for a bad one, joined by spaces. */
static char *render(const char *text, size_t len)
{
    bo_csv c;
    bo_csv_init(&c, text, len);
    bo_buf out;
    bo_buf_init(&out);
    bo_csv_record rec;
    int rc;
    while ((rc = bo_csv_next(&c, &rec)) != BO_CSV_END) {
        if (out.len)
            bo_buf_putc(&out, ' ');
        if (rc == BO_CSV_BAD) {
            bo_buf_printf(&out, "%lu:BAD(%zu) %s", rec.line, rec.column, rec.error);
            continue;
        }
        bo_buf_printf(&out, "%lu:[", rec.line);
        for (size_t i = 0; i < c.nfields; i++) {
            if (i)
                bo_buf_putc(&out, '|');
            bo_buf_append(&out, bo_csv_field_ptr(&c, i), c.fields[i].len);
        }
        bo_buf_putc(&out, ']');
    }
    bo_csv_free(&c);
    bo_buf_putc(&out, '\0');
    return out.data;
}

#define CHECK_CSV(text, want) do { \
    char *got = render(text, sizeof(text) - 1); \
    CHECK_STR(got, want); \
    free(got); \
} while (0)

TEST(plain_records)
{
    CHECK_CSV("a,b,c\n1,2,3\n", "1:[a|b|c] 2:[1|2|3]");
    CHECK_CSV("a,b\n1,2", "1:[a|b] 2:[1|2]");            /* no final line break */
    CHECK_CSV("", "");
    CHECK_CSV("\n\n", "");
}

TEST(line_endings)
{
    CHECK_CSV("a,b\r\n1,2\r\n", "1:[a|b] 2:[1|2]");
    CHECK_CSV("a,b\r1,2\r", "1:[a|b] 2:[1|2]");            /* a lone CR */
    CHECK_CSV("a\n\n\nb\r\n\r\nc", "1:[a] 4:[b] 6:[c]");   /* blank lines skipped, still counted */
}

TEST(empty_fields)
{
    CHECK_CSV("a,,c\n,,\n", "1:[a||c] 2:[||]");
    CHECK_CSV("a,b,\n", "1:[a|b|]");
    CHECK_CSV("\"\",x\n", "1:[|x]");
}

TEST(quoted_commas_and_quotes)
{
    CHECK_CSV("\"Smith, John\",42\n", "1:[Smith, John|42]");
    CHECK_CSV("\"say \"\"hi\"\"\",x\n", "1:[say \"hi\"|x]");
    CHECK_CSV("\"\"\"\"\n", "1:[\"]");
}

TEST(newlines_inside_quotes)
{
    CHECK_CSV("id,note\n1,\"line one\nline two\"\n2,x\n", "1:[id|note] 2:[1|line one\nline two] 4:[2|x]");
    CHECK_CSV("1,\"a\r\nb\r\nc\"\r\n2,y\r\n", "1:[1|a\r\nb\r\nc] 4:[2|y]");
}

TEST(byte_order_mark)
{
    CHECK_CSV("\xEF\xBB\xBFname,age\nAda,36\n", "1:[name|age] 2:[Ada|36]");
    /* Only at the very start. */
    CHECK_CSV("a\n\xEF\xBB\xBF" "b\n", "1:[a] 2:[\xEF\xBB\xBF" "b]");
}

TEST(quote_inside_unquoted_field_is_literal)
{
    CHECK_CSV("5\" floppy,x\n", "1:[5\" floppy|x]");
}

TEST(text_after_closing_quote)
{
    CHECK_CSV("a,\"b\"c,d\nnext,row\n", "1:BAD(2) unexpected text after a closing quote 2:[next|row]");
}

TEST(unclosed_quote)
{
    CHECK_CSV("a,b\n1,\"never closed\n3,4\n", "1:[a|b] 2:BAD(2) a quoted field is not closed (a \" is missing)");
}

TEST(bad_utf8)
{
    CHECK_CSV("name\nJos\xE9\nok\n", "1:[name] 2:BAD(1) the text is not UTF-8 (save the file as \"CSV UTF-8\") 3:[ok]");
    CHECK_CSV("a,\xC0\xAF\n", "1:BAD(2) the text is not UTF-8 (save the file as \"CSV UTF-8\")");     /* overlong */
    CHECK_CSV("a,\xED\xA0\x80\n", "1:BAD(2) the text is not UTF-8 (save the file as \"CSV UTF-8\")"); /* surrogate */
    CHECK_CSV("a,b\xE2\x82\n", "1:BAD(2) the text is not UTF-8 (save the file as \"CSV UTF-8\")");    /* cut short */
    CHECK_CSV("caf\xC3\xA9,\xE2\x82\xAC,\xF0\x9F\x98\x80\n", "1:[caf\xC3\xA9|\xE2\x82\xAC|\xF0\x9F\x98\x80]");
}

TEST(nul_byte)
{
    CHECK_CSV("a,b\0c\nd\n", "1:BAD(2) the text holds a NUL character 2:[d]");
}

TEST(ragged_rows_are_returned_as_they_are)
{
    CHECK_CSV("a,b,c\n1,2\n1,2,3,4\n", "1:[a|b|c] 2:[1|2] 3:[1|2|3|4]");
}

TEST(too_many_fields)
{
    size_t n = BO_CSV_MAX_FIELDS + 1;
    char *text = malloc(n * 2 + 8);
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        text[len++] = 'x';
        text[len++] = i + 1 < n ? ',' : '\n';
    }
    memcpy(text + len, "ok\n", 3);
    len += 3;
    char *got = render(text, len);
    CHECK_STR(got, "1:BAD(4097) the row has too many fields 2:[ok]");
    free(got);
    free(text);
}

TEST(writer_quotes_only_when_needed)
{
    static const char *const cases[][2] = {
        { "plain", "plain" },
        { "", "" },
        { "a,b", "\"a,b\"" },
        { "say \"hi\"", "\"say \"\"hi\"\"\"" },
        { "two\nlines", "\"two\nlines\"" },
        { "cr\r", "\"cr\r\"" },
        { " padded ", "\" padded \"" },
        { "caf\xC3\xA9", "caf\xC3\xA9" },
        /* A byte order mark first would be skipped if the record began a
           file (found by tests/fuzz/csv.c). */
        { "\xEF\xBB\xBFid", "\"\xEF\xBB\xBFid\"" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bo_buf b;
        bo_buf_init(&b);
        bo_csv_put_field(&b, cases[i][0], strlen(cases[i][0]));
        bo_buf_putc(&b, '\0');
        CHECK_STR(b.data, cases[i][1]);
        bo_buf_free(&b);
    }
}

TEST(writer_output_reads_back)
{
    static const char *const values[] = { "a,b", "q\"q", "multi\r\nline", " sp", "", "x" };
    bo_buf b;
    bo_buf_init(&b);
    for (size_t i = 0; i < 6; i++) {
        if (i)
            bo_buf_putc(&b, ',');
        bo_csv_put_field(&b, values[i], strlen(values[i]));
    }
    bo_buf_append(&b, "\r\n", 2);
    bo_csv c;
    bo_csv_init(&c, b.data, b.len);
    bo_csv_record rec;
    CHECK_EQ_INT(bo_csv_next(&c, &rec), BO_CSV_ROW);
    CHECK_EQ_INT(c.nfields, 6);
    for (size_t i = 0; i < 6 && i < c.nfields; i++)
        CHECK_MEM(bo_csv_field_ptr(&c, i), c.fields[i].len, values[i]);
    CHECK_EQ_INT(bo_csv_next(&c, &rec), BO_CSV_END);
    bo_csv_free(&c);
    bo_buf_free(&b);
}

/* Fields of a record that has no bytes at all still point into the
   reader's buffer (found by tests/fuzz/csv.c: they were NULL + 0, which
   memchr and memcpy may not be given). */
TEST(empty_fields_point_into_a_buffer)
{
    static const char *const texts[] = { ",\n", "\"\"\n", "\"\",,\"\"\r\n" };
    for (size_t t = 0; t < sizeof texts / sizeof texts[0]; t++) {
        bo_csv c;
        bo_csv_init(&c, texts[t], strlen(texts[t]));
        bo_csv_record rec;
        CHECK_EQ_INT(bo_csv_next(&c, &rec), BO_CSV_ROW);
        for (size_t i = 0; i < c.nfields; i++) {
            CHECK(bo_csv_field_ptr(&c, i) != NULL);
            CHECK_EQ_INT(c.fields[i].len, 0);
        }
        bo_csv_free(&c);
    }
}

/* A record whose only field is empty must not be written as an empty line,
   which a reader skips: export then import would lose the row. */
TEST(writer_keeps_a_record_of_one_empty_field)
{
    bo_buf b;
    bo_buf_init(&b);
    const char *const rows[][2] = { { "a", "b" }, { "", NULL }, { "", "" }, { "z", NULL } };
    for (size_t r = 0; r < 4; r++) {
        size_t start = b.len;
        for (size_t i = 0; i < 2 && rows[r][i]; i++) {
            if (i)
                bo_buf_putc(&b, ',');
            bo_csv_put_field(&b, rows[r][i], strlen(rows[r][i]));
        }
        bo_csv_end_record(&b, start);
    }
    bo_buf_putc(&b, '\0');
    CHECK_STR(b.data, "a,b\r\n\"\"\r\n,\r\nz\r\n");
    char *got = render(b.data, b.len - 1);
    CHECK_STR(got, "1:[a|b] 2:[] 3:[|] 4:[z]");
    free(got);
    bo_buf_free(&b);
}

TEST(utf8_validation)
{
    CHECK(bo_utf8_valid("", 0));
    CHECK(bo_utf8_valid("plain ascii", 11));
    CHECK(bo_utf8_valid("\xF4\x8F\xBF\xBF", 4));       /* U+10FFFF */
    CHECK(!bo_utf8_valid("\xF4\x90\x80\x80", 4));      /* past U+10FFFF */
    CHECK(!bo_utf8_valid("\x80", 1));                  /* a stray continuation */
    CHECK(!bo_utf8_valid("\xE0\x80\x80", 3));          /* overlong */
    CHECK(!bo_utf8_valid("a\0b", 3));
}

static const unit_case cases[] = {
    UNIT_CASE(plain_records)
    UNIT_CASE(line_endings)
    UNIT_CASE(empty_fields)
    UNIT_CASE(quoted_commas_and_quotes)
    UNIT_CASE(newlines_inside_quotes)
    UNIT_CASE(byte_order_mark)
    UNIT_CASE(quote_inside_unquoted_field_is_literal)
    UNIT_CASE(text_after_closing_quote)
    UNIT_CASE(unclosed_quote)
    UNIT_CASE(bad_utf8)
    UNIT_CASE(nul_byte)
    UNIT_CASE(ragged_rows_are_returned_as_they_are)
    UNIT_CASE(too_many_fields)
    UNIT_CASE(writer_quotes_only_when_needed)
    UNIT_CASE(writer_output_reads_back)
    UNIT_CASE(empty_fields_point_into_a_buffer)
    UNIT_CASE(writer_keeps_a_record_of_one_empty_field)
    UNIT_CASE(utf8_validation)
};

int main(void)
{
    return UNIT_RUN("csv", cases);
}
