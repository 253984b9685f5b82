/*
 * unit.h - the C unit-test harness: TEST() defines a case, CHECK*() records
 * failures with file:line, and UNIT_RUN() runs a table of cases and ends
 * with the suite's closing line "N passed, N failed".
 *
 *     TEST(parses_a_get) { CHECK_EQ_INT(parse("GET / ..."), 0); }
 *     static const unit_case cases[] = { UNIT_CASE(parses_a_get) };
 *     int main(void) { return UNIT_RUN("http", cases); }
 */
#ifndef BO_UNIT_H
#define BO_UNIT_H

#include <stdio.h>
#include <string.h>

static int unit_case_failed;

#define TEST(name) static void name(void)

#define CHECK(cond) do { \
    if (!(cond)) { \
        printf("  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
        unit_case_failed = 1; \
    } } while (0)

#define CHECK_EQ_INT(a, b) do { \
    long long unit_a = (long long)(a), unit_b = (long long)(b); \
    if (unit_a != unit_b) { \
        printf("  %s:%d: %s == %lld, expected %lld\n", __FILE__, __LINE__, #a, unit_a, unit_b); \
        unit_case_failed = 1; \
    } } while (0)

#define CHECK_STR(a, b) do { \
    const char *unit_a = (a), *unit_b = (b); \
    if (!unit_a || !unit_b || strcmp(unit_a, unit_b) != 0) { \
        printf("  %s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a, \
               unit_a ? unit_a : "(null)", unit_b ? unit_b : "(null)"); \
        unit_case_failed = 1; \
    } } while (0)

#define CHECK_MEM(a, alen, b) do { \
    const char *unit_a = (a); size_t unit_n = (alen); const char *unit_b = (b); \
    if (!unit_a || unit_n != strlen(unit_b) || memcmp(unit_a, unit_b, unit_n) != 0) { \
        printf("  %s:%d: %s == \"%.*s\", expected \"%s\"\n", __FILE__, __LINE__, #a, \
               (int)(unit_a ? unit_n : 6), unit_a ? unit_a : "(null)", unit_b); \
        unit_case_failed = 1; \
    } } while (0)

typedef struct unit_case { const char *name; void (*fn)(void); } unit_case;

#define UNIT_CASE(fn) { #fn, fn },

static inline int unit_run(const char *suite, const unit_case *cases, size_t n)
{
    int passed = 0, failed = 0;
    for (size_t i = 0; i < n; i++) {
        unit_case_failed = 0;
        cases[i].fn();
        printf("%s %s/%s\n", unit_case_failed ? "FAIL" : "ok  ", suite, cases[i].name);
        if (unit_case_failed)
            failed++;
        else
            passed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

#define UNIT_RUN(suite, cases) unit_run(suite, cases, sizeof cases / sizeof cases[0])

#endif
