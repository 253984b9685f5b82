/*
 * netaddr.c - IP addresses and ranges (see netaddr.h).
 */
#include "netaddr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const unsigned char v4_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

int bo_cidr_parse(const char *s, bo_cidr *out)
{
    char addr[64];
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    if (n == 0 || n >= sizeof addr)
        return BO_EINVAL;
    memcpy(addr, s, n);
    addr[n] = '\0';
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET, addr, out->addr) == 1)
        out->family = AF_INET;
    else if (inet_pton(AF_INET6, addr, out->addr) == 1)
        out->family = AF_INET6;
    else
        return BO_EINVAL;
    unsigned max = out->family == AF_INET ? 32 : 128;
    out->bits = max;
    if (slash) {
        char *end;
        unsigned long bits = strtoul(slash + 1, &end, 10);
        if (end == slash + 1 || *end || bits > max)
            return BO_EINVAL;
        out->bits = (unsigned)bits;
    }
    return 0;
}

static bool prefix_equal(const unsigned char *a, const unsigned char *b, unsigned bits)
{
    unsigned bytes = bits / 8, rest = bits % 8;
    if (memcmp(a, b, bytes) != 0)
        return false;
    if (rest == 0)
        return true;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (a[bytes] & mask) == (b[bytes] & mask);
}

/* The family and bytes of a binary address, an IPv4 one mapped into IPv6
   taken as IPv4. */
static int plain(int family, const unsigned char *in, unsigned char out[16])
{
    if (family == AF_INET6 && memcmp(in, v4_mapped, 12) == 0) {
        memcpy(out, in + 12, 4);
        return AF_INET;
    }
    memcpy(out, in, family == AF_INET ? 4 : 16);
    return family;
}

static bool match(const bo_cidr *list, unsigned n, int family, const unsigned char *a)
{
    for (unsigned i = 0; i < n; i++)
        if (list[i].family == family && prefix_equal(a, list[i].addr, list[i].bits))
            return true;
    return false;
}

/* Parses text ip into out; the family, or 0 if it is no address. */
static int parse(const char *ip, unsigned char out[16])
{
    unsigned char raw[16];
    if (inet_pton(AF_INET, ip, raw) == 1)
        return plain(AF_INET, raw, out);
    if (inet_pton(AF_INET6, ip, raw) == 1)
        return plain(AF_INET6, raw, out);
    return 0;
}

bool bo_cidr_match(const bo_cidr *list, unsigned n, const char *ip)
{
    unsigned char a[16];
    int family = parse(ip, a);
    return family && match(list, n, family, a);
}

void bo_netaddr_client_key(const char *ip, char *out, size_t n)
{
    unsigned char a[16];
    int family = parse(ip, a);
    char text[INET6_ADDRSTRLEN];
    if (family == AF_INET6) {
        memset(a + 8, 0, 8);
        if (inet_ntop(AF_INET6, a, text, sizeof text)) {
            snprintf(out, n, "%s/64", text);
            return;
        }
    } else if (family == AF_INET && inet_ntop(AF_INET, a, text, sizeof text)) {
        snprintf(out, n, "%s", text);
        return;
    }
    snprintf(out, n, "%s", ip);
}

static const bo_cidr internal_v4[] = {
    { AF_INET, { 0 }, 8 },                      /* "this network", 0.0.0.0 */
    { AF_INET, { 10 }, 8 },
    { AF_INET, { 100, 64 }, 10 },               /* shared address space (carrier NAT) */
    { AF_INET, { 127 }, 8 },
    { AF_INET, { 169, 254 }, 16 },              /* link-local, 169.254.169.254 metadata */
    { AF_INET, { 172, 16 }, 12 },
    { AF_INET, { 192, 0, 0 }, 24 },             /* IETF protocol assignments */
    { AF_INET, { 192, 168 }, 16 },
    { AF_INET, { 198, 18 }, 15 },               /* benchmarking */
    { AF_INET, { 224 }, 4 },                    /* multicast */
    { AF_INET, { 240 }, 4 },                    /* reserved, broadcast */
};

static const bo_cidr internal_v6[] = {
    { AF_INET6, { 0 }, 96 },                    /* ::, ::1 and the old IPv4-compatible form */
    { AF_INET6, { 0xfc }, 7 },                  /* unique local, with fd00:ec2::254 (metadata) */
    { AF_INET6, { 0xfe, 0x80 }, 10 },           /* link-local */
    { AF_INET6, { 0xfe, 0xc0 }, 10 },           /* site-local (deprecated) */
    { AF_INET6, { 0xff }, 8 },                  /* multicast */
};

bool bo_netaddr_internal(const struct sockaddr *addr)
{
    unsigned char a[16];
    int family;
    if (addr->sa_family == AF_INET)
        family = plain(AF_INET, (const unsigned char *)&((const struct sockaddr_in *)addr)->sin_addr, a);
    else if (addr->sa_family == AF_INET6)
        family = plain(AF_INET6, (const unsigned char *)&((const struct sockaddr_in6 *)addr)->sin6_addr, a);
    else
        return true;                            /* not an IP address: never */
    if (family == AF_INET6) {
        static const unsigned char nat64[12] = { 0, 0x64, 0xff, 0x9b };
        if (memcmp(a, nat64, 12) == 0) {        /* 64:ff9b::a.b.c.d reaches a.b.c.d */
            memmove(a, a + 12, 4);
            family = AF_INET;
        }
    }
    if (family == AF_INET)
        return match(internal_v4, BO_COUNT(internal_v4), AF_INET, a);
    return match(internal_v6, BO_COUNT(internal_v6), AF_INET6, a);
}

bool bo_netaddr_is(const struct sockaddr *addr, const char *ip)
{
    unsigned char want[16], a[16];
    int wf = parse(ip, want), family;
    if (addr->sa_family == AF_INET)
        family = plain(AF_INET, (const unsigned char *)&((const struct sockaddr_in *)addr)->sin_addr, a);
    else if (addr->sa_family == AF_INET6)
        family = plain(AF_INET6, (const unsigned char *)&((const struct sockaddr_in6 *)addr)->sin6_addr, a);
    else
        return false;
    return wf && wf == family && memcmp(a, want, family == AF_INET ? 4 : 16) == 0;
}
