/*
 * test_jwt.c - HS256 tokens checked against a published example, and
 * Notify API key parsing (core/jwt.c).
 */
#include "jwt.h"
#include "unit.h"

#include <stdlib.h>
#include <string.h>

TEST(hs256_token)
{
    /* jwt.io's HS256 example claims and secret. */
    char *t = bo_jwt_hs256("{\"sub\":\"1234567890\",\"name\":\"John Doe\",\"iat\":1516239022}",
                           (const uint8_t *)"your-256-bit-secret", 19);
    /* Computed independently (Python's hmac) for Notify's header order. */
    CHECK_STR(t, "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9."
                 "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ."
                 "wrJ__8Q_6BcB2ug9370TBuK5JoAjErqsQtYf7aLcFBk");
    free(t);
}

TEST(notify_token_and_key)
{
    char svc[37], secret[37];
    const char *key = "borough_test-26785a09-ab16-4eb0-8407-a37497a57506-3d844edf-8d35-48ac-975b-e847b4f122b0";
    CHECK_EQ_INT(bo_notify_key_parse(key, svc, secret), 0);
    CHECK_STR(svc, "26785a09-ab16-4eb0-8407-a37497a57506");
    CHECK_STR(secret, "3d844edf-8d35-48ac-975b-e847b4f122b0");
    CHECK_EQ_INT(bo_notify_key_parse("not-a-key", svc, secret), BO_EINVAL);
    CHECK_EQ_INT(bo_notify_key_parse("x-26785a09-ab16-4eb0-8407-a37497a57506_3d844edf-8d35-48ac-975b-e847b4f122b0",
                                     svc, secret), BO_EINVAL);
    char *t = bo_notify_token(svc, secret, 1700000000);
    /* Claims: {"iss":"26785a09-...","iat":1700000000} */
    CHECK(strstr(t, ".eyJpc3MiOiIyNjc4NWEwOS1hYjE2LTRlYjAtODQwNy1hMzc0OTdhNTc1MDYiLCJpYXQiOjE3MDAwMDAwMDB9.") != NULL);
    CHECK_EQ_INT(strlen(strrchr(t, '.') + 1), 43);   /* 32 bytes of HMAC */
    free(t);
}

static const unit_case cases[] = {
    UNIT_CASE(hs256_token)
    UNIT_CASE(notify_token_and_key)
};

int main(void)
{
    return UNIT_RUN("jwt", cases);
}
