/*
 * test_password.c - argon2id hashing and the password policy
 * (core/password.c).
 */
#include "password.h"
#include "unit.h"

#include <argon2.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

TEST(hash_and_verify)
{
    char err[200];
    const char *pw = "correct horse battery staple";
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    char *h = bo_password_hash(pw, strlen(pw), err, sizeof err);
    clock_gettime(CLOCK_MONOTONIC, &b);
    CHECK(h != NULL);
    CHECK(strncmp(h, "$argon2id$v=19$m=19456,t=2,p=1$", 31) == 0);
    double ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
    printf("  one hash took %.1f ms\n", ms);
    CHECK_EQ_INT(bo_password_verify(h, pw, strlen(pw)), 0);
    CHECK_EQ_INT(bo_password_verify(h, "correct horse battery stapl", 27), BO_EPERM);
    CHECK_EQ_INT(bo_password_verify(h, "", 0), BO_EPERM);
    CHECK(!bo_password_needs_rehash(h));
    /* The same password hashes differently each time (a fresh salt). */
    char *h2 = bo_password_hash(pw, strlen(pw), err, sizeof err);
    CHECK(strcmp(h, h2) != 0);
    CHECK_EQ_INT(bo_password_verify(h2, pw, strlen(pw)), 0);
    free(h);
    free(h2);
}

static int argon2id_hash_encoded_for_test(char *out, size_t n)
{
    const char salt[] = "0123456789abcdef";
    return argon2id_hash_encoded(3, 4096, 1, "a fine old password", 19, salt, 16, 32, out, n);
}

TEST(old_parameters_verify_and_need_rehash)
{
    /* Made with m=4096,t=3 (weaker than today's). */
    char weak[200];
    CHECK_EQ_INT(argon2id_hash_encoded_for_test(weak, sizeof weak), 0);
    CHECK_EQ_INT(bo_password_verify(weak, "a fine old password", 19), 0);
    CHECK(bo_password_needs_rehash(weak));
    CHECK_EQ_INT(bo_password_verify("$2b$12$notargon", "x", 1), BO_EINVAL);
    CHECK_EQ_INT(bo_password_verify("$argon2id$v=19$m=garbage", "x", 1), BO_EINVAL);
}

TEST(policy)
{
    static const struct { const char *pw, *email, *problem; } cases[] = {
        { "short", NULL, "Enter a password that is 10 characters or more" },
        { "aaaaaaaaaaaa", NULL, "Enter a password that is not one character repeated" },
        { "password123", NULL, "Enter a password that is harder to guess: this one is too common" },
        { "Password123!", NULL, "Enter a password that is harder to guess: this one is too common" },
        { "!!London2024", NULL, "Enter a password that is harder to guess: this one is too common" },
        { "1234567890", NULL, "Enter a password that is harder to guess: this one is too common" },
        { "QWERTYUIOP", NULL, "Enter a password that is harder to guess: this one is too common" },
        { "jsmith2024", "jsmith@council.example", "Enter a password that is not based on your email address" },
        { "jsmith@council.example", "jsmith@council.example",
          "Enter a password that is not based on your email address" },
        { "purple kettle orbit", NULL, NULL },
        { "Borough-grants-2026-xyz", NULL, NULL },
        { "Llanfairpwll", NULL, NULL },
        { "jsmith grows tall tomatoes", "jsmith@council.example", NULL },
    };
    for (size_t i = 0; i < BO_COUNT(cases); i++) {
        const char *got = bo_password_problem(cases[i].pw, strlen(cases[i].pw), cases[i].email);
        if (cases[i].problem)
            CHECK_STR(got, cases[i].problem);
        else if (got)
            CHECK_STR(got, "(acceptable)");
    }
    char longpw[300];
    memset(longpw, 'x', sizeof longpw);
    longpw[0] = 'y';
    CHECK_STR(bo_password_problem(longpw, sizeof longpw, NULL),
              "Enter a password that is 256 characters or fewer");
}

static const unit_case cases[] = {
    UNIT_CASE(hash_and_verify)
    UNIT_CASE(old_parameters_verify_and_need_rehash)
    UNIT_CASE(policy)
};

int main(void)
{
    return UNIT_RUN("password", cases);
}
