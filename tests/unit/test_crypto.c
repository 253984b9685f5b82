/*
 * test_crypto.c - hashes against published vectors, base64url, the
 * keyring file, sealed values and blind indexes (core/crypto.c).
 */
#include "crypto.h"
#include "unit.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/borough-crypto-XXXXXX";

TEST(sha256_and_hmac_vectors)
{
    uint8_t out[32];
    char hex[65];
    bo_sha256("abc", 3, out);
    bo_hex(out, 32, hex);
    CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    /* RFC 4231, test case 2 */
    bo_hmac_sha256((const uint8_t *)"Jefe", 4, "what do ya want for nothing?", 28, out);
    bo_hex(out, 32, hex);
    CHECK_STR(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    CHECK(bo_equal_ct("abcd", "abcd", 4));
    CHECK(!bo_equal_ct("abcd", "abce", 4));
}

TEST(base64url)
{
    static const struct { const char *in, *out; } v[] = {
        { "", "" }, { "f", "Zg" }, { "fo", "Zm8" }, { "foo", "Zm9v" }, { "foob", "Zm9vYg" },
        { "fooba", "Zm9vYmE" }, { "foobar", "Zm9vYmFy" }, { "\xfb\xff", "-_8" },
    };
    for (size_t i = 0; i < BO_COUNT(v); i++) {
        char enc[32];
        uint8_t dec[32];
        size_t n = bo_base64url_encode((const uint8_t *)v[i].in, strlen(v[i].in), enc);
        CHECK_STR(enc, v[i].out);
        CHECK_EQ_INT(n, strlen(v[i].out));
        long m = bo_base64url_decode(enc, n, dec, sizeof dec);
        CHECK_MEM((const char *)dec, (size_t)m, v[i].in);
    }
    uint8_t dec[8];
    CHECK_EQ_INT(bo_base64url_decode("Zm9v+", 5, dec, sizeof dec), -1);     /* '+' is not base64url */
    CHECK_EQ_INT(bo_base64url_decode("Z", 1, dec, sizeof dec), -1);         /* impossible length */
    CHECK_EQ_INT(bo_base64url_decode("Zh", 2, dec, sizeof dec), -1);        /* non-zero spare bits */
    CHECK_EQ_INT(bo_base64url_decode("Zm9vYmFy", 8, dec, 5), -1);           /* too long for the buffer */
    /* Standard base64 (HTTP Basic): padded, + and /. */
    static const struct { const char *in, *out; } s[] = {
        { "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" }, { "foob", "Zm9vYg==" },
        { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" }, { "\xfb\xff", "+/8=" },
    };
    for (size_t i = 0; i < BO_COUNT(s); i++) {
        char enc[16];
        CHECK_EQ_INT(bo_base64_encode((const uint8_t *)s[i].in, strlen(s[i].in), enc), strlen(s[i].out));
        CHECK_STR(enc, s[i].out);
    }
}

TEST(keyring_is_created_owner_only_and_rotates)
{
    bo_keyring *k;
    char err[300];
    CHECK_EQ_INT(bo_keyring_load(&k, dir, false, err, sizeof err), BO_ENOENT);
    CHECK_EQ_INT(bo_keyring_load(&k, dir, true, err, sizeof err), 0);
    CHECK_EQ_INT(bo_keyring_current(k), 1);
    char path[300];
    snprintf(path, sizeof path, "%s/keys", dir);
    struct stat st;
    CHECK_EQ_INT(stat(path, &st), 0);
    CHECK_EQ_INT(st.st_mode & 0777, 0600);

    char *sealed = bo_seal(k, "app/t/c", "123456", 6);
    CHECK(strncmp(sealed, "bo1.1.", 6) == 0);
    char index1[BO_BLIND_INDEX_CHARS + 1];
    bo_blind_index(k, "app/t/c", "123456", 6, index1);
    bo_keyring_free(k);

    int id = 0;
    CHECK_EQ_INT(bo_keyring_rotate(dir, &id, err, sizeof err), 0);
    CHECK_EQ_INT(id, 2);
    CHECK_EQ_INT(bo_keyring_load(&k, dir, false, err, sizeof err), 0);
    CHECK_EQ_INT(bo_keyring_current(k), 2);
    /* Old values still open; new ones use the new key; indexes change with
       the key (borough keys rotate recomputes them). */
    bo_buf out;
    bo_buf_init(&out);
    CHECK_EQ_INT(bo_unseal(k, "app/t/c", sealed, strlen(sealed), &out, err, sizeof err), 0);
    CHECK_MEM(out.data, out.len, "123456");
    char *sealed2 = bo_seal(k, "app/t/c", "123456", 6);
    CHECK(strncmp(sealed2, "bo1.2.", 6) == 0);
    char index2[BO_BLIND_INDEX_CHARS + 1];
    bo_blind_index(k, "app/t/c", "123456", 6, index2);
    CHECK(strcmp(index2, index1) != 0);
    free(sealed);
    free(sealed2);
    bo_buf_free(&out);
    bo_keyring_free(k);

    /* A key file others can read is refused. */
    chmod(path, 0644);
    CHECK_EQ_INT(bo_keyring_load(&k, dir, false, err, sizeof err), BO_EPERM);
    CHECK(strstr(err, "owner only") != NULL);
    chmod(path, 0600);
}

TEST(environment_keyring_and_malformed_lines)
{
    bo_keyring *k;
    char err[300];
    setenv("BOROUGH_KEYS", "7 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n", 1);
    CHECK_EQ_INT(bo_keyring_load(&k, "/nonexistent", false, err, sizeof err), 0);
    CHECK_EQ_INT(bo_keyring_current(k), 7);
    bo_keyring_free(k);
    setenv("BOROUGH_KEYS", "7 0001", 1);
    CHECK_EQ_INT(bo_keyring_load(&k, "/nonexistent", false, err, sizeof err), BO_EINVAL);
    CHECK_STR(err, "BOROUGH_KEYS:1: expected \"<id> <64 hex digits>\"");
    setenv("BOROUGH_KEYS", "1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
                           "1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n", 1);
    CHECK_EQ_INT(bo_keyring_load(&k, "/nonexistent", false, err, sizeof err), BO_EINVAL);
    CHECK_STR(err, "BOROUGH_KEYS:2: key id 1 appears twice");
    unsetenv("BOROUGH_KEYS");
}

TEST(sealed_values_are_bound_and_tamper_evident)
{
    bo_keyring *k;
    char err[300];
    CHECK_EQ_INT(bo_keyring_load(&k, dir, true, err, sizeof err), 0);
    char *a = bo_seal(k, "grants/applications/account", "31926819", 8);
    char *b = bo_seal(k, "grants/applications/account", "31926819", 8);
    CHECK(strcmp(a, b) != 0);                  /* a fresh nonce each time */
    CHECK(strstr(a, "31926819") == NULL);
    bo_buf out;
    bo_buf_init(&out);
    /* Moved to another column: refused. */
    CHECK_EQ_INT(bo_unseal(k, "grants/applications/sort_code", a, strlen(a), &out, err, sizeof err),
                 BO_EPERM);
    /* One character changed: refused. */
    size_t n = strlen(a);
    a[n - 3] = a[n - 3] == 'A' ? 'B' : 'A';
    CHECK_EQ_INT(bo_unseal(k, "grants/applications/account", a, n, &out, err, sizeof err), BO_EPERM);
    CHECK_EQ_INT(out.len, 0);
    CHECK_EQ_INT(bo_unseal(k, "x", "plain text", 10, &out, err, sizeof err), BO_EINVAL);
    CHECK_EQ_INT(bo_unseal(k, "x", "bo1.99.AAAA", 11, &out, err, sizeof err), BO_EPERM);
    CHECK_STR(err, "sealed with key 99, which is not in the keyring");
    /* An empty value seals and opens. */
    char *e = bo_seal(k, "x", "", 0);
    CHECK_EQ_INT(bo_unseal(k, "x", e, strlen(e), &out, err, sizeof err), 0);
    CHECK_EQ_INT(out.len, 0);
    /* Indexes: equal values match within a context, not across contexts. */
    char i1[BO_BLIND_INDEX_CHARS + 1], i2[BO_BLIND_INDEX_CHARS + 1], i3[BO_BLIND_INDEX_CHARS + 1];
    bo_blind_index(k, "grants/applications/account", "31926819", 8, i1);
    bo_blind_index(k, "grants/applications/account", "31926819", 8, i2);
    bo_blind_index(k, "grants/applications/sort_code", "31926819", 8, i3);
    CHECK_STR(i1, i2);
    CHECK(strcmp(i1, i3) != 0);
    CHECK_EQ_INT(strlen(i1), BO_BLIND_INDEX_CHARS);
    /* An index is HMAC-SHA-256 under the "blind index" purpose key of
       "<context> NUL <value>", its first 16 bytes in base64url. */
    uint8_t ikey[BO_KEY_BYTES], mac[32];
    bo_keyring_derive(k, "blind index", ikey);
    const char msg[] = "grants/applications/account\0" "31926819";
    bo_hmac_sha256(ikey, sizeof ikey, msg, sizeof msg - 1, mac);
    char expect[BO_BLIND_INDEX_CHARS + 1];
    bo_base64url_encode(mac, 16, expect);
    CHECK_STR(i1, expect);
    free(a);
    free(b);
    free(e);
    bo_buf_free(&out);
    bo_keyring_free(k);
}

static const unit_case cases[] = {
    UNIT_CASE(sha256_and_hmac_vectors)
    UNIT_CASE(base64url)
    UNIT_CASE(keyring_is_created_owner_only_and_rotates)
    UNIT_CASE(environment_keyring_and_malformed_lines)
    UNIT_CASE(sealed_values_are_bound_and_tamper_evident)
};

int main(void)
{
    if (!mkdtemp(dir))
        return 1;
    int rc = UNIT_RUN("crypto", cases);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
    return rc;
}
