/*
 * jws_vectors.h - keys and tokens for test_jws.c, made once with Python's
 * cryptography package: a 2048-bit RSA key "rsa1" and a P-256 key "ec1"
 * (the set JWKS, public halves only; the private keys were discarded), a
 * 1024-bit RSA key (WEAK_JWKS), and tokens signed over the same ID token
 * claims: RS256, PS256 (salt 32), ES256 (r || s), and the wrong shapes
 * (PS256 with a 64-byte salt, ES256 with a DER signature, a PKCS#1 v1.5
 * signature under a PS256 header, an ES256 header naming the RSA key, HS256
 * keyed with the RSA public key's PEM, an unknown kid).
 * Claims: {"iss":"https://idp.example","sub":"u-1001","aud":"borough",
 * "exp":2000000600,"iat":2000000000,"nonce":"n-0S6_WzA2Mj","name":"Ada Example",
 * "email":"ada@example.org","groups":["planning","housing"]}
 */
#define JWKS \
    "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"rsa1\",\"use\":\"sig\",\"n\":\"0MFfI1Nd1DKcyb-h1uBQO" \
    "2eWwo3WXeJkIb37yTNhu5cjnFJS9Esn0lKUfdrDtmovhB4muSdQUwg6omCv9kvG6USpArrz3Xv0vzVLscw6Hu26Qoh" \
    "D-DONgGnP72XadbIQKcbrUeRo9nawoTVahGJXnB_ZUQ1gZ-bdp8RbS9Z-Cr1H6RK9KQ-558o1BydBHu830PNI-0At7" \
    "bUudauxrZTiFJodtN62d23hEt5Fsf6oxqgvPFU3etU52McwC1vSy9VcCQwC9JAnFx4L7gcIC-PuUkhCbbrF-xz1333" \
    "6JlRt2oXbpDrNVWzX3EZbxvOgUHT7_kM8FOhkkveF2RhALLiIEw\",\"e\":\"AQAB\"},{\"kty\":\"EC\",\"ki" \
    "d\":\"ec1\",\"crv\":\"P-256\",\"x\":\"AiPNnXUvxj466t8J0kZU9VKe2_WyGjwjWMaUFhGC6n4\",\"y\":" \
    "\"7hriX0T_FqnUnMJTxxCHs5oqVA5OvjE7q1wJcz-uFpA\"}]}"

#define RS256 \
    "eyJhbGciOiJSUzI1NiIsImtpZCI6InJzYTEiLCJ0eXAiOiJKV1QifQ.eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGx" \
    "lIiwic3ViIjoidS0xMDAxIiwiYXVkIjoiYm9yb3VnaCIsImV4cCI6MjAwMDAwMDYwMCwiaWF0IjoyMDAwMDAwMDAwL" \
    "CJub25jZSI6Im4tMFM2X1d6QTJNaiIsIm5hbWUiOiJBZGEgRXhhbXBsZSIsImVtYWlsIjoiYWRhQGV4YW1wbGUub3J" \
    "nIiwiZ3JvdXBzIjpbInBsYW5uaW5nIiwiaG91c2luZyJdfQ.g2RlbjLOUrq6c1hcy-tG8U0WoSDACh-Iwk2a1z3FIs" \
    "UgBkT8UQqQfbEQ8p89X6kdR3raT5oxjRZ9w1hKMFfa6UZI0uVkGypYgmdAgueau2TVjKRpCT8n3S5OKRge9CSx58P1" \
    "8Xeu8LXDOYX1VjV-J0-LodeMO5_CowjS45bCxJJjD5iflOFB9gxjOwbYnpw0gKYoUlSUoKvdbEhnaaGwQPBMGF-BZ1" \
    "IrlRA3Pi-boUL1tlXdhZJcymKr2RPKUmvVHMzMLha4nH3CNNqUTFonV_DleCrt_xK87VVe4uJwSYdJxpJkLbyy1v4T" \
    "IYk9VGYIVgRdSdrqzf-kkVJuLl4-Rg"

#define PS256 \
    "eyJhbGciOiJQUzI1NiIsImtpZCI6InJzYTEifQ.eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlIiwic3ViIjoidS0" \
    "xMDAxIiwiYXVkIjoiYm9yb3VnaCIsImV4cCI6MjAwMDAwMDYwMCwiaWF0IjoyMDAwMDAwMDAwLCJub25jZSI6Im4tM" \
    "FM2X1d6QTJNaiIsIm5hbWUiOiJBZGEgRXhhbXBsZSIsImVtYWlsIjoiYWRhQGV4YW1wbGUub3JnIiwiZ3JvdXBzIjp" \
    "bInBsYW5uaW5nIiwiaG91c2luZyJdfQ.M9YHGQ4TjOevc7h7wbzj-KBS97VBIa7i6tkxMWIKeoplHXRQM-AUaFYxVi" \
    "M-b3z8yDYJ9pygv1xxELCG7lSaB-fD4hDmLfrmeTpMAD3DMl7irqkhf_nAaKbYujxbTF_YRa9bIvmH68Ah4Quo5u1s" \
    "u-V3n3z8h9EF16qDlOOeGkPIU3oIZAx3c25YR5fXgXn4gu6bGgyNvcLFuor9tloiM8q3bo7neJHYmN3RSFFiZOCBZV" \
    "JuwKNwomw7wr3yxU0b9aV7ZAaTL6U-wzVKjGIyJt5yAUbL2iMKT_HurDw9Cg97y40kcp1M3FMtVj_ULiAbj7p4plys" \
    "sZiPZ6fXZKLTCA"

#define ES256 \
    "eyJhbGciOiJFUzI1NiIsImtpZCI6ImVjMSJ9.eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlIiwic3ViIjoidS0xM" \
    "DAxIiwiYXVkIjoiYm9yb3VnaCIsImV4cCI6MjAwMDAwMDYwMCwiaWF0IjoyMDAwMDAwMDAwLCJub25jZSI6Im4tMFM" \
    "2X1d6QTJNaiIsIm5hbWUiOiJBZGEgRXhhbXBsZSIsImVtYWlsIjoiYWRhQGV4YW1wbGUub3JnIiwiZ3JvdXBzIjpbI" \
    "nBsYW5uaW5nIiwiaG91c2luZyJdfQ.ildZXH5YKqjO6s2plHPMxHA57yF40m8Vclodozs57FAgl8bWc4_ileZBzgAB" \
    "GubhW2N1yoTk00xJkQGmv0Oeqg"

#define RS256_NOKID \
    "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlIiwic3ViIjoidS0xMDAxIiwiYXVkIjoiY" \
    "m9yb3VnaCIsImV4cCI6MjAwMDAwMDYwMCwiaWF0IjoyMDAwMDAwMDAwLCJub25jZSI6Im4tMFM2X1d6QTJNaiIsIm5" \
    "hbWUiOiJBZGEgRXhhbXBsZSIsImVtYWlsIjoiYWRhQGV4YW1wbGUub3JnIiwiZ3JvdXBzIjpbInBsYW5uaW5nIiwia" \
    "G91c2luZyJdfQ.uxuC0wQhSd6WYOdhEQTjhnxDXKBNMdTygkbPl4bIHKlshFR8a5cPa4PiXYfEgyT5UZF3nbLM-ZN1" \
    "J0WLDLl0p1-uonhh0G-4EPaod9XrJ9JaRj_5Ihzwznnj317Ws0gZyFhP6-2qBw1sW5_mNSf-lat4RqTzC15xbf8MJG" \
    "cmCTVC3oujeB1No88I3hkLSoJ7v-0D4dqTGb4CfGTnjv5KYiNN27AFVIuj4JGLxa8mVrOuOXXAh-LB8p3LRpY22yx9" \
    "jaosYB5fujVZ5Lf9h_JdA1BHp0Vkw8UgQQKejvUQYaFjCmIDzCNVsLZ0lAuNESrvEjrtovwI-0lcIjfU9JlBMQ"

#define PS256_SALT64 \
    "eyJhbGciOiJQUzI1NiIsImtpZCI6InJzYTEifQ.eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlIiwic3ViIjoidS0" \
    "xMDAxIiwiYXVkIjoiYm9yb3VnaCIsImV4cCI6MjAwMDAwMDYwMCwiaWF0IjoyMDAwMDAwMDAwLCJub25jZSI6Im4tM" \
    "FM2X1d6QTJNaiIsIm5hbWUiOiJBZGEgRXhhbXBsZSIsImVtYWlsIjoiYWRhQGV4YW1wbGUub3JnIiwiZ3JvdXBzIjp" \
    "bInBsYW5uaW5nIiwiaG91c2luZyJdfQ.Q5qjBm2afcFPpYQjkRbj6t5xbwONudsRuW1VD7ev_s1TnBl1JrABv2IWK6" \
    "keDZ-9PtJ6Anx4RERNtfuciWltHkIDYndY_JXzy1CLGLZg2XmkSAu6W7j2yejEmRp2sML6_tNUuum74uoBHdvkI3Gl" \
    "moxmBgNiexSNjlvxHn_RVBOfbms3dULopyxWQXhJNVusuTvOqHcULNl3t4jxiIUp4v13Qi654Ort3Y5kl6dPVcPOPF" \
    "DYHFFOvOfTBmbtfka-k6JVPytuS6FKgLViSc2_CsLwGevEN5xsVSm9fCHy_-8XTC6i_n1rPK85T42yl_E3hLcGVOjA" \
    "_cKIbFhV8_W_1w"

#define ES256_DER \
    "eyJhbGciOiJFUzI1NiIsImtpZCI6ImVjMSJ9.eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlIiwic3ViIjoidS0xM" \
    "DAxIiwiYXVkIjoiYm9yb3VnaCIsImV4cCI6MjAwMDAwMDYwMCwiaWF0IjoyMDAwMDAwMDAwLCJub25jZSI6Im4tMFM" \
    "2X1d6QTJNaiIsIm5hbWUiOiJBZGEgRXhhbXBsZSIsImVtYWlsIjoiYWRhQGV4YW1wbGUub3JnIiwiZ3JvdXBzIjpbI" \
    "nBsYW5uaW5nIiwiaG91c2luZyJdfQ.MEQCIHpWP7_CTVP1G69E3QiP8R-ylTywqx8oqXQcID-BzEURAiADUMM372-h" \
    "bJ0xpgn13x22yKiDoKjrS5bYbKxB8mjc6g"

#define RS_AS_PS \
    "eyJhbGciOiJQUzI1NiIsImtpZCI6InJzYTEifQ.eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlIiwic3ViIjoidS0" \
    "xMDAxIiwiYXVkIjoiYm9yb3VnaCIsImV4cCI6MjAwMDAwMDYwMCwiaWF0IjoyMDAwMDAwMDAwLCJub25jZSI6Im4tM" \
    "FM2X1d6QTJNaiIsIm5hbWUiOiJBZGEgRXhhbXBsZSIsImVtYWlsIjoiYWRhQGV4YW1wbGUub3JnIiwiZ3JvdXBzIjp" \
    "bInBsYW5uaW5nIiwiaG91c2luZyJdfQ.OyW6fySc28a0olg0bHcJQaeHO3h9QvFHIucrSWHxYoYxwkumiatty37c42" \
    "7LJxPIvJXiz5u9db2-Sy45x2Zay3rjojjiNu60-uTeCTgG-9NjhrRpxLC0SNFLMWuKOtGf9U6_hdHD-GoE4aHZM9kV" \
    "5bWn54VNxM_a3QWxh3XjL2KkzW8oyRjSJ14H_oasRpdx6MCezuQTjXMYi1p3NZU1W5MuHv8gI_X3CtOPHP9kXBvK0X" \
    "u3pa33JNd4LjXZCghUztZjiM1FUSUWPi_4e0rNcfzbQSw_DMj1NqY-Eu24bWKH6uag2zchYHO02-McRqH7K3BsNUMo" \
    "7mPXBbH1gSzB5g"

#define ES_KID_RSA \
    "eyJhbGciOiJFUzI1NiIsImtpZCI6InJzYTEifQ.eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlIiwic3ViIjoidS0" \
    "xMDAxIiwiYXVkIjoiYm9yb3VnaCIsImV4cCI6MjAwMDAwMDYwMCwiaWF0IjoyMDAwMDAwMDAwLCJub25jZSI6Im4tM" \
    "FM2X1d6QTJNaiIsIm5hbWUiOiJBZGEgRXhhbXBsZSIsImVtYWlsIjoiYWRhQGV4YW1wbGUub3JnIiwiZ3JvdXBzIjp" \
    "bInBsYW5uaW5nIiwiaG91c2luZyJdfQ.O7Gz_ETnzr2Kv1hjIIC--CO1gPG_URa7GS-VX6oH-yA3hi_7mXcgrMHOCI" \
    "dk5r3jTzLmCNB4T6dP4lC3DQsDYg"

#define HS256_PEM \
    "eyJhbGciOiJIUzI1NiIsImtpZCI6InJzYTEifQ.eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlIiwic3ViIjoidS0" \
    "xMDAxIiwiYXVkIjoiYm9yb3VnaCIsImV4cCI6MjAwMDAwMDYwMCwiaWF0IjoyMDAwMDAwMDAwLCJub25jZSI6Im4tM" \
    "FM2X1d6QTJNaiIsIm5hbWUiOiJBZGEgRXhhbXBsZSIsImVtYWlsIjoiYWRhQGV4YW1wbGUub3JnIiwiZ3JvdXBzIjp" \
    "bInBsYW5uaW5nIiwiaG91c2luZyJdfQ.LM40jzeFRCUKHX_MnFPh-xne-aXomKafT8xb1jylgaw"

#define UNKNOWN_KID \
    "eyJhbGciOiJSUzI1NiIsImtpZCI6InJzYTIifQ.eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlIiwic3ViIjoidS0" \
    "xMDAxIiwiYXVkIjoiYm9yb3VnaCIsImV4cCI6MjAwMDAwMDYwMCwiaWF0IjoyMDAwMDAwMDAwLCJub25jZSI6Im4tM" \
    "FM2X1d6QTJNaiIsIm5hbWUiOiJBZGEgRXhhbXBsZSIsImVtYWlsIjoiYWRhQGV4YW1wbGUub3JnIiwiZ3JvdXBzIjp" \
    "bInBsYW5uaW5nIiwiaG91c2luZyJdfQ.zYARLFfqph6AmRX7b05Yuo_B32Nqvxcxx9B7QOrrvqHdA6UUFBRn9BY8Ag" \
    "3lDqsz7SKigKW2En9fbrFGaNcQMWxtAbOzq3nTX9PODfj0_zF5HSywJGZQfn0AyiQYLMEBVJsbXxLu74GvffdRSTiv" \
    "BhFp1xYdKSDYJ4VvRrVcs3ljkXl8cvpSfm9Z73rOojI6aU59LIfS0zaz7am_zSc56Ev9gaYb2fCrv02P5DU9z4b0Ql" \
    "mFoEMDnKlQXoRz04NFsxW1tzbyfGg2IzfkIpZFuihSYypeXo6YV1A2JRxVarqB5FQFQgHL2Eby-8ZuL8cG5GDZX6Tp" \
    "mMnNH9uf0UUqmg"

#define WEAK_JWKS \
    "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"weak\",\"n\":\"4bC0ZF-3IG6JfqAWeRsnDVlVmiUdFKzqquFJp" \
    "8uKMcZrtQhX-Y34OuPDZmhOcqCF_e9Mg3KMgWk7HoIm-4VE17Y4phhfNTHVVVUE4lUcMwzzYzBSoNtJjIsb0U6mlI5" \
    "eFHXIHK877oezPh6hBUNjEQzdc1ro_PdIiI__oSTBUkU\",\"e\":\"AQAB\"}]}"

