/*
 * replay.c - runs a fuzz harness over its kept inputs without libFuzzer, so
 * that `make test` replays every seed, minimised corpus file and crash
 * reproducer with the normal build (and `make asan` under the sanitizers).
 *
 * Linked into build/test_fuzz_<name>, it takes the harness's name from its
 * own, and feeds each file of
 * tests/fuzz/corpus/<name>/ and then tests/fuzz/crashes/<name>/ (relative to
 * the working directory, the checkout's root as tests/run runs it), in name
 * order, to LLVMFuzzerTestOneInput, and ends with "N passed, N failed". An
 * input that breaks a harness check or a sanitizer aborts the process; the
 * handler below names the file first. Files given as arguments are run
 * instead of the folders.
 */
#include "fuzz.h"

#include <dirent.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *name = "?";     /* the harness: "http" */
static char current[4096];         /* the input being run */

static void on_abort(int sig)
{
    static const char what[] = "\nFAIL fuzz_";
    ssize_t rc = write(2, what, sizeof what - 1);
    rc = write(2, name, strlen(name));
    rc = write(2, " on ", 4);
    rc = write(2, current, strlen(current));
    rc = write(2, "\n", 1);
    (void)rc;
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Runs one file; returns 0, or -1 if it cannot be read. */
static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t cap = 4096, len = 0;
    uint8_t *data = malloc(cap);
    size_t n;
    while (data && (n = fread(data + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            cap *= 2;
            uint8_t *grown = realloc(data, cap);
            if (!grown)
                free(data);
            data = grown;
        }
    }
    fclose(f);
    if (!data)
        return -1;
    snprintf(current, sizeof current, "%s", path);
    /* An exact-size copy, so that a read past the input's end is caught. */
    uint8_t *exact = malloc(len ? len : 1);
    if (!exact) {
        free(data);
        return -1;
    }
    memcpy(exact, data, len);
    free(data);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs every regular file of dir (missing is fine); counts into *passed and
   *failed. */
static void run_dir(const char *dir, int *passed, int *failed)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    char **names = NULL;
    size_t count = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (count == cap) {
            cap = cap ? 2 * cap : 64;
            char **grown = realloc(names, cap * sizeof *names);
            if (!grown)
                abort();
            names = grown;
        }
        names[count] = strdup(e->d_name);
        if (!names[count])
            abort();
        count++;
    }
    closedir(d);
    if (count)
        qsort(names, count, sizeof *names, by_name);
    for (size_t i = 0; i < count; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            if (run_file(path) == 0) {
                (*passed)++;
            } else {
                printf("FAIL fuzz_%s: cannot read %s\n", name, path);
                (*failed)++;
            }
        }
        free(names[i]);
    }
    free(names);
}

int main(int argc, char **argv)
{
    int passed = 0, failed = 0;
    const char *self = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    if (strncmp(self, "test_fuzz_", 10) == 0)
        name = self + 10;
    signal(SIGABRT, on_abort);
    if (argc > 1) {
        for (int i = 1; i < argc; i++) {
            if (run_file(argv[i]) == 0) {
                printf("ok   fuzz_%s %s\n", name, argv[i]);
                passed++;
            } else {
                printf("FAIL fuzz_%s: cannot read %s\n", name, argv[i]);
                failed++;
            }
        }
    } else {
        static const char *const kinds[] = { "corpus", "crashes" };
        for (size_t k = 0; k < 2; k++) {
            char dir[256];
            int before = passed;
            snprintf(dir, sizeof dir, "tests/fuzz/%s/%s", kinds[k], name);
            run_dir(dir, &passed, &failed);
            printf("ok   fuzz_%s: %d inputs of %s\n", name, passed - before, dir);
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
