/*
 * test_qr.c - core/qr.c checked against independent tools: each symbol,
 * mask choice included, bit for bit against Debian's qrencode (libqrencode)
 * for the same data, level and version, across all four levels and
 * versions 1 to 40; and read back by zbarimg (zbar) from an image of it,
 * for every level and every mask. Both tools are installed by `make deps`.
 * Also the SVG output, capacity limits and bad arguments.
 */
#include "unit.h"

#include "buf.h"
#include "qr.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char level_names[] = "LMQH";

/* Runs argv (no shell; stderr dropped) and returns its standard output, or
   NULL if it could not run or failed. */
static char *capture(char *const argv[])
{
    int fds[2];
    if (pipe(fds))
        return NULL;
    pid_t pid = fork();
    if (pid < 0)
        return NULL;
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(fds[1], 1);
        if (null >= 0)
            dup2(null, 2);
        close(fds[0]);
        close(fds[1]);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(fds[1]);
    bo_buf b;
    bo_buf_init(&b);
    char chunk[4096];
    ssize_t n;
    while ((n = read(fds[0], chunk, sizeof chunk)) > 0)
        bo_buf_append(&b, chunk, (size_t)n);
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    bo_buf_putc(&b, '\0');
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        printf("  %s exited with status %d%s\n", argv[0], WIFEXITED(status) ? WEXITSTATUS(status) : -1,
               WIFEXITED(status) && WEXITSTATUS(status) == 127 ? " (not installed? make deps installs it)" : "");
        bo_buf_free(&b);
        return NULL;
    }
    return b.data;
}

/* The symbol as qrencode -t ASCII -m 0 draws it: "##" dark, "  " light. */
static char *ascii(const bo_qr *q)
{
    bo_buf b;
    bo_buf_init(&b);
    for (int y = 0; y < q->size; y++) {
        for (int x = 0; x < q->size; x++)
            bo_buf_puts(&b, bo_qr_dark(q, x, y) ? "##" : "  ");
        bo_buf_putc(&b, '\n');
    }
    bo_buf_putc(&b, '\0');
    return b.data;
}

/* Data of n bytes that looks like an otpauth URI, varying with seed. */
static char *sample(int n, int seed)
{
    char *s = bo_malloc((size_t)n + 1);
    const char *uri = "otpauth://totp/Borough%20Council:ada.example%40example.org?secret=GEZDGNBVGY3TQOJQ"
                      "&issuer=Borough%20Council&algorithm=SHA1&digits=6&period=30&";
    size_t ul = strlen(uri);
    for (int i = 0; i < n; i++)
        s[i] = i < (int)ul ? uri[i] : (char)('a' + (i * 7 + seed) % 26);
    s[n] = '\0';
    return s;
}

TEST(same_as_qrencode)
{
    static const int versions[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 20, 23, 26, 27,
                                    32, 35, 40 };
    int compared = 0;
    for (int ecl = BO_QR_LOW; ecl <= BO_QR_HIGH; ecl++)
        for (size_t i = 0; i < BO_COUNT(versions); i++) {
            int v = versions[i];
            bo_qr q;
            /* As much as the version holds at this level, less a few bytes. */
            int n = 1;
            for (int len = 1; len < 3000; len += 1 + len / 8) {
                bo_qr t;
                char *probe = sample(len, 0);
                int rc = bo_qr_encode(probe, (size_t)len, (bo_qr_ecl)ecl, v, v, 0, &t);
                free(probe);
                if (rc)
                    break;
                bo_qr_release(&t);
                n = len;
            }
            n = n > 3 ? n - (int)(i % 3) : n;
            char *data = sample(n, (int)i);
            CHECK_EQ_INT(bo_qr_encode(data, (size_t)n, (bo_qr_ecl)ecl, v, 40, -1, &q), 0);
            CHECK_EQ_INT(q.version, v);
            char vs[8], lv[2] = { level_names[ecl], '\0' };
            snprintf(vs, sizeof vs, "%d", v);
            char *const argv[] = { "qrencode", "-8", "-l", lv, "-v", vs, "-m", "0", "-t", "ASCII", "-o", "-",
                                   data, NULL };
            char *theirs = capture(argv), *ours = ascii(&q);
            CHECK(theirs != NULL);
            if (theirs && strcmp(theirs, ours) != 0) {
                printf("  level %c version %d (%d bytes, our mask %d) differs from qrencode\n", lv[0], v, n,
                       q.mask);
                unit_case_failed = 1;
            }
            compared += theirs != NULL;
            free(theirs);
            free(ours);
            free(data);
            bo_qr_release(&q);
        }
    CHECK_EQ_INT(compared, 4 * BO_COUNT(versions));
}

/* Writes the symbol (3 pixels a module, with its quiet zone) as a PBM image
   and returns what zbarimg reads from it, or NULL. */
static char *scan(const bo_qr *q)
{
    char path[] = "/tmp/test_qr_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return NULL;
    FILE *f = fdopen(fd, "w");
    int scale = 3, w = (q->size + 2 * BO_QR_QUIET) * scale;
    fprintf(f, "P1\n%d %d\n", w, w);
    for (int y = 0; y < w; y++) {
        for (int x = 0; x < w; x++)
            fputc(bo_qr_dark(q, x / scale - BO_QR_QUIET, y / scale - BO_QR_QUIET) ? '1' : '0', f);
        fputc('\n', f);
    }
    fclose(f);
    char *const argv[] = { "zbarimg", "--raw", "-q", path, NULL };
    char *text = capture(argv);
    unlink(path);
    return text;
}

TEST(read_by_zbarimg)
{
    const char *uri = "otpauth://totp/Borough%20Council:ada.example%40example.org?secret=GEZDGNBVGY3TQOJQ"
                      "GEZDGNBVGY3TQOJQ&issuer=Borough%20Council&algorithm=SHA1&digits=6&period=30";
    char *want = bo_sprintf("%s\n", uri);
    for (int ecl = BO_QR_LOW; ecl <= BO_QR_HIGH; ecl++)
        for (int mask = -1; mask < 8; mask++) {
            bo_qr q;
            CHECK_EQ_INT(bo_qr_encode(uri, strlen(uri), (bo_qr_ecl)ecl, 1, 40, mask, &q), 0);
            if (mask >= 0)
                CHECK_EQ_INT(q.mask, mask);
            char *got = scan(&q);
            if (!got || strcmp(got, want) != 0) {
                printf("  level %c mask %d version %d: zbarimg read \"%s\"\n", level_names[ecl], q.mask,
                       q.version, got ? got : "(nothing)");
                unit_case_failed = 1;
            }
            free(got);
            bo_qr_release(&q);
        }
    free(want);
    /* A larger symbol, with version information (version 7 and up), and
       every byte value. */
    uint8_t bytes[300];
    for (int i = 0; i < 300; i++)
        bytes[i] = (uint8_t)('0' + i % 10);
    bo_qr q;
    CHECK_EQ_INT(bo_qr_encode(bytes, sizeof bytes, BO_QR_MEDIUM, 1, 40, -1, &q), 0);
    CHECK_EQ_INT(q.version, 13);
    char *got = scan(&q);
    CHECK(got && strlen(got) == 301 && memcmp(got, bytes, 300) == 0);
    free(got);
    bo_qr_release(&q);
}

TEST(capacity_and_arguments)
{
    bo_qr q;
    /* Version 1-M holds 14 bytes. */
    CHECK_EQ_INT(bo_qr_encode("12345678901234", 14, BO_QR_MEDIUM, 1, 40, -1, &q), 0);
    CHECK_EQ_INT(q.version, 1);
    CHECK_EQ_INT(q.size, 21);
    bo_qr_release(&q);
    CHECK_EQ_INT(bo_qr_encode("123456789012345", 15, BO_QR_MEDIUM, 1, 40, -1, &q), 0);
    CHECK_EQ_INT(q.version, 2);
    CHECK_EQ_INT(q.size, 25);
    bo_qr_release(&q);
    CHECK_EQ_INT(bo_qr_encode("123456789012345", 15, BO_QR_MEDIUM, 1, 1, -1, &q), BO_ELIMIT);
    CHECK(q.modules == NULL);
    /* Version 40-L holds 2953 bytes, and no more. */
    char *big = sample(2954, 0);
    CHECK_EQ_INT(bo_qr_encode(big, 2953, BO_QR_LOW, 1, 40, 0, &q), 0);
    CHECK_EQ_INT(q.version, 40);
    CHECK_EQ_INT(q.size, 177);
    bo_qr_release(&q);
    CHECK_EQ_INT(bo_qr_encode(big, 2954, BO_QR_LOW, 1, 40, 0, &q), BO_ELIMIT);
    free(big);
    CHECK_EQ_INT(bo_qr_encode("x", 1, BO_QR_MEDIUM, 0, 40, -1, &q), BO_EINVAL);
    CHECK_EQ_INT(bo_qr_encode("x", 1, BO_QR_MEDIUM, 1, 41, -1, &q), BO_EINVAL);
    CHECK_EQ_INT(bo_qr_encode("x", 1, BO_QR_MEDIUM, 5, 4, -1, &q), BO_EINVAL);
    CHECK_EQ_INT(bo_qr_encode("x", 1, BO_QR_MEDIUM, 1, 40, 8, &q), BO_EINVAL);
    CHECK_EQ_INT(bo_qr_encode("x", 1, (bo_qr_ecl)4, 1, 40, -1, &q), BO_EINVAL);
    CHECK_EQ_INT(bo_qr_encode("", 0, BO_QR_HIGH, 1, 40, -1, &q), 0);
    CHECK_EQ_INT(q.version, 1);
    CHECK(!bo_qr_dark(&q, -1, 0) && !bo_qr_dark(&q, 21, 0) && bo_qr_dark(&q, 0, 0));
    bo_qr_release(&q);
}

TEST(svg)
{
    bo_qr q;
    CHECK_EQ_INT(bo_qr_encode("hello", 5, BO_QR_MEDIUM, 1, 40, -1, &q), 0);
    char *svg = bo_qr_svg(&q, "Scan with an <authenticator> app & \"go\"", 4);
    const char *head =
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 29 29\" width=\"116\" height=\"116\" "
        "shape-rendering=\"crispEdges\" role=\"img\" aria-label=\"Scan with an &lt;authenticator&gt; app "
        "&amp; &quot;go&quot;\"><title>Scan with an &lt;authenticator&gt; app &amp; &quot;go&quot;</title>"
        "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/><path fill=\"#000\" d=\"M4 4h7v1h-7z";
    CHECK(strncmp(svg, head, strlen(head)) == 0);
    const char *tail = "\"/></svg>";
    CHECK(strcmp(svg + strlen(svg) - strlen(tail), tail) == 0);
    /* Every dark module is in exactly one run: the runs' lengths add up. */
    long dark = 0, covered = 0;
    for (int y = 0; y < q.size; y++)
        for (int x = 0; x < q.size; x++)
            dark += bo_qr_dark(&q, x, y);
    for (const char *p = strchr(svg, 'M'); p; p = strchr(p + 1, 'M')) {
        int x, y, run;
        CHECK_EQ_INT(sscanf(p, "M%d %dh%d", &x, &y, &run), 3);
        CHECK(x >= 4 && y >= 4 && x + run <= 25 && y < 25);
        CHECK(bo_qr_dark(&q, x - 4, y - 4) && bo_qr_dark(&q, x - 4 + run - 1, y - 4));
        CHECK(!bo_qr_dark(&q, x - 5, y - 4) && !bo_qr_dark(&q, x - 4 + run, y - 4));
        covered += run;
    }
    CHECK_EQ_INT(covered, dark);
    free(svg);
    bo_qr_release(&q);
}

static const unit_case cases[] = {
    UNIT_CASE(same_as_qrencode)
    UNIT_CASE(read_by_zbarimg)
    UNIT_CASE(capacity_and_arguments)
    UNIT_CASE(svg)
};

int main(void)
{
    return UNIT_RUN("qr", cases);
}
