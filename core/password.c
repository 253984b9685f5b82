/*
 * password.c - argon2id hashing and the password policy (see password.h).
 */
#include "password.h"
#include "crypto.h"

#include <argon2.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define T_COST 2
#define M_COST (19 * 1024)        /* KiB */
#define LANES 1
#define SALT_BYTES 16
#define HASH_BYTES 32

char *bo_password_hash(const char *password, size_t len, char *err, size_t errlen)
{
    uint8_t salt[SALT_BYTES];
    if (bo_random(salt, sizeof salt) < 0) {
        snprintf(err, errlen, "no randomness from the kernel");
        return NULL;
    }
    size_t n = argon2_encodedlen(T_COST, M_COST, LANES, SALT_BYTES, HASH_BYTES, Argon2_id);
    char *encoded = bo_malloc(n);
    int rc = argon2id_hash_encoded(T_COST, M_COST, LANES, password, len, salt, SALT_BYTES, HASH_BYTES,
                                   encoded, n);
    if (rc != ARGON2_OK) {
        snprintf(err, errlen, "argon2: %s", argon2_error_message(rc));
        free(encoded);
        return NULL;
    }
    return encoded;
}

int bo_password_verify(const char *encoded, const char *password, size_t len)
{
    if (strncmp(encoded, "$argon2id$", 10) != 0)
        return BO_EINVAL;
    int rc = argon2id_verify(encoded, password, len);
    if (rc == ARGON2_OK)
        return 0;
    return rc == ARGON2_VERIFY_MISMATCH ? BO_EPERM : BO_EINVAL;
}

bool bo_password_needs_rehash(const char *encoded)
{
    char want[64];
    snprintf(want, sizeof want, "$argon2id$v=%d$m=%d,t=%d,p=%d$", ARGON2_VERSION_NUMBER, M_COST, T_COST,
             LANES);
    return strncmp(encoded, want, strlen(want)) != 0;
}

/* Words people build passwords from, written for this list (lower case).
   A password that is one of them, or one of them with only digits and
   symbols around it ("Password123!", "!!london2024"), is refused. */
static const char *const common_words[] = {
    "password", "passw0rd", "p@ssword", "p@ssw0rd", "pass", "passcode", "passwort", "qwerty",
    "qwertyuiop", "qwertyuiop[]", "asdfghjkl", "zxcvbnm", "azerty", "abc", "abcd", "abcdef",
    "abcdefg", "abcdefgh", "abcdefghij", "letmein", "welcome", "welcome1", "admin", "administrator",
    "root", "login", "user", "guest", "master", "secret", "changeme", "default", "temp", "test",
    "testing", "hello", "hellothere", "iloveyou", "loveyou", "lovely", "trustno", "trustno1", "dragon",
    "monkey", "football", "baseball", "soccer", "cricket", "rugby", "arsenal", "chelsea", "liverpool",
    "manchester", "tottenham", "sunshine", "princess", "superman", "batman", "starwars", "pokemon",
    "shadow", "freedom", "whatever", "nothing", "mustang", "michael", "jennifer", "jordan", "hunter",
    "ranger", "buster", "tigger", "cheese", "chocolate", "computer", "internet", "samsung", "google",
    "microsoft", "windows", "apple", "london", "england", "britain", "scotland", "wales", "cymru",
    "council", "borough", "government", "service", "office", "summer", "winter", "spring", "autumn",
    "january", "february", "march", "april", "june", "july", "august", "september", "october",
    "november", "december", "monday", "friday", "sunday", "family", "mother", "father", "daughter",
    "charlie", "thomas", "jessica", "ashley", "daniel", "matthew", "andrew", "joshua", "george",
    "william", "harry", "oliver", "jack", "sophie", "emily", "olivia", "flower", "purple", "orange",
    "yellow", "silver", "golden", "diamond", "killer", "pepper", "ginger", "maggie", "biscuit", "cookie",
    "butterfly", "angel", "jesus", "blessed", "heaven", "matrix", "hockey", "access", "accessdenied",
    "letmein1", "iloveu", "fuckyou", "asshole", "qazwsx", "qazwsxedc", "1qaz2wsx", "1q2w3e4r",
    "1q2w3e4r5t", "zaq12wsx", "q1w2e3r4", "q1w2e3r4t5", "a1b2c3d4", "aa123456", "abc123", "123abc",
    "qwe123", "qwerty123", "password1", "password123", "iloveyou1", "monkey123", "dragon123",
    "1234567890", "0987654321", "123456789", "12345678", "123123123", "111111111", "000000000",
    "9876543210", "147258369", "123654789", "159753", "741852963", "11223344", "12341234",
};

static bool is_word_char(unsigned char c)
{
    return isalpha(c) || c >= 0x80;
}

const char *bo_password_problem(const char *password, size_t len, const char *email)
{
    if (len < BO_PASSWORD_MIN)
        return "Enter a password that is 10 characters or more";
    if (len > BO_PASSWORD_MAX)
        return "Enter a password that is 256 characters or fewer";
    bool same = true;
    for (size_t i = 1; i < len && same; i++)
        same = password[i] == password[0];
    if (same)
        return "Enter a password that is not one character repeated";
    /* The core: drop digits and symbols at both ends, lower-case the rest. */
    size_t start = 0, end = len;
    while (start < end && !is_word_char((unsigned char)password[start]))
        start++;
    while (end > start && !is_word_char((unsigned char)password[end - 1]))
        end--;
    char lower[BO_PASSWORD_MAX + 1], core[BO_PASSWORD_MAX + 1];
    for (size_t i = 0; i < len; i++)
        lower[i] = (char)tolower((unsigned char)password[i]);
    lower[len] = '\0';
    memcpy(core, lower + start, end - start);
    core[end - start] = '\0';
    for (size_t i = 0; i < BO_COUNT(common_words); i++)
        if (strcmp(lower, common_words[i]) == 0 || (core[0] && strcmp(core, common_words[i]) == 0))
            return "Enter a password that is harder to guess: this one is too common";
    if (email && *email) {
        /* The address, or its name part with a few characters added. */
        size_t at = strcspn(email, "@");
        char name[BO_PASSWORD_MAX + 1];
        if (at <= BO_PASSWORD_MAX) {
            for (size_t i = 0; i < at; i++)
                name[i] = (char)tolower((unsigned char)email[i]);
            name[at] = '\0';
            if (at >= 4 && len - at <= 4 && strstr(lower, name))
                return "Enter a password that is not based on your email address";
        }
        if (strcasecmp(lower, email) == 0)
            return "Enter a password that is not based on your email address";
    }
    return NULL;
}
