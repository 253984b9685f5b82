/*
 * test_netaddr.c - address ranges, the client key of the sign-in throttle
 * (an IPv6 client counted by its /64), and the addresses outbound calls may
 * not reach by name.
 */
#include "netaddr.h"
#include "unit.h"

#include <arpa/inet.h>
#include <netinet/in.h>

static const char *key(const char *ip)
{
    static char out[BO_NETADDR_KEY_MAX];
    bo_netaddr_client_key(ip, out, sizeof out);
    return out;
}

TEST(an_ipv6_client_is_counted_by_its_64)
{
    CHECK_STR(key("2001:db8:1:2::1"), "2001:db8:1:2::/64");
    CHECK_STR(key("2001:db8:1:2:ffff:ffff:ffff:fffe"), "2001:db8:1:2::/64");
    CHECK_STR(key("2001:db8:1:3::1"), "2001:db8:1:3::/64");
    CHECK_STR(key("::1"), "::/64");
    CHECK_STR(key("203.0.113.7"), "203.0.113.7");
    CHECK_STR(key("::ffff:203.0.113.7"), "203.0.113.7");
    CHECK_STR(key("not an address"), "not an address");
}

static bool internal(const char *ip)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, ip, &v4->sin_addr) == 1)
        v4->sin_family = AF_INET;
    else if (inet_pton(AF_INET6, ip, &v6->sin6_addr) == 1)
        v6->sin6_family = AF_INET6;
    return bo_netaddr_internal((struct sockaddr *)&ss);
}

TEST(loopback_private_link_local_and_metadata_addresses_are_internal)
{
    static const char *const in[] = {
        "127.0.0.1", "127.255.0.9", "0.0.0.0", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
        "100.64.0.1", "100.127.255.255", "169.254.169.254", "169.254.1.1", "224.0.0.1", "255.255.255.255",
        "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "fd00:ec2::254", "ff02::1", "::ffff:127.0.0.1",
        "::ffff:10.0.0.1", "::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe", "64:ff9b::7f00:1",
    };
    for (size_t i = 0; i < BO_COUNT(in); i++) {
        if (!internal(in[i]))
            printf("  not internal: %s\n", in[i]);
        CHECK(internal(in[i]));
    }
    static const char *const out[] = {
        "8.8.8.8", "172.32.0.1", "172.15.255.255", "100.128.0.1", "203.0.113.7", "192.169.0.1",
        "2001:4860:4860::8888", "2a00:1450::1", "::ffff:8.8.8.8", "64:ff9b::808:808",
    };
    for (size_t i = 0; i < BO_COUNT(out); i++) {
        if (internal(out[i]))
            printf("  internal: %s\n", out[i]);
        CHECK(!internal(out[i]));
    }
}

TEST(an_address_is_the_one_its_text_names)
{
    struct sockaddr_in v4 = { .sin_family = AF_INET };
    inet_pton(AF_INET, "127.0.0.1", &v4.sin_addr);
    CHECK(bo_netaddr_is((struct sockaddr *)&v4, "127.0.0.1"));
    CHECK(!bo_netaddr_is((struct sockaddr *)&v4, "127.0.0.2"));
    CHECK(!bo_netaddr_is((struct sockaddr *)&v4, "localhost"));
    struct sockaddr_in6 v6 = { .sin6_family = AF_INET6 };
    inet_pton(AF_INET6, "::ffff:127.0.0.1", &v6.sin6_addr);
    CHECK(bo_netaddr_is((struct sockaddr *)&v6, "127.0.0.1"));
    inet_pton(AF_INET6, "::1", &v6.sin6_addr);
    CHECK(bo_netaddr_is((struct sockaddr *)&v6, "::1"));
    CHECK(!bo_netaddr_is((struct sockaddr *)&v6, "127.0.0.1"));
}

TEST(ranges_match_addresses_of_their_family)
{
    bo_cidr list[2];
    CHECK_EQ_INT(bo_cidr_parse("10.0.0.0/8", &list[0]), 0);
    CHECK_EQ_INT(bo_cidr_parse("2001:db8::/32", &list[1]), 0);
    CHECK(bo_cidr_match(list, 2, "10.9.8.7"));
    CHECK(bo_cidr_match(list, 2, "::ffff:10.9.8.7"));
    CHECK(bo_cidr_match(list, 2, "2001:db8:5::1"));
    CHECK(!bo_cidr_match(list, 2, "11.0.0.1"));
    CHECK(!bo_cidr_match(list, 2, "nonsense"));
    bo_cidr bad;
    CHECK_EQ_INT(bo_cidr_parse("10.0.0.0/33", &bad), BO_EINVAL);
    CHECK_EQ_INT(bo_cidr_parse("/8", &bad), BO_EINVAL);
}

static const unit_case cases[] = {
    UNIT_CASE(an_ipv6_client_is_counted_by_its_64)
    UNIT_CASE(loopback_private_link_local_and_metadata_addresses_are_internal)
    UNIT_CASE(an_address_is_the_one_its_text_names)
    UNIT_CASE(ranges_match_addresses_of_their_family)
};

int main(void)
{
    return UNIT_RUN("netaddr", cases);
}
