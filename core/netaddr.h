/*
 * netaddr.h - IP addresses and ranges: CIDR ranges (`serve --metrics-from`),
 * the part of a client's address the sign-in throttle counts as one client,
 * and the addresses an app's outbound calls may not reach unless its
 * allow_hosts names them (loopback, private, link-local, cloud metadata).
 * Pure functions over addresses; no I/O.
 */
#ifndef BO_NETADDR_H
#define BO_NETADDR_H

#include "bo.h"

#include <sys/socket.h>

/* An address range. */
typedef struct bo_cidr {
    int family;                             /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    unsigned bits;
} bo_cidr;

/* Parses "127.0.0.0/8", "::1/128", "10.1.2.3" (a single address). Returns 0
   or BO_EINVAL. */
int bo_cidr_parse(const char *s, bo_cidr *out);
/* True when the textual address ip is inside one of the ranges; an IPv4
   address mapped into IPv6 (::ffff:a.b.c.d) counts as IPv4. */
bool bo_cidr_match(const bo_cidr *list, unsigned n, const char *ip);

/* Room for a client key, its NUL included. */
#define BO_NETADDR_KEY_MAX 48

/* The part of the client address ip (text, as a connection holds it) that
   counts as one client: an IPv4 address as it is (also one mapped into
   IPv6), an IPv6 address by its /64 ("2001:db8:1:2::/64"), the network a
   single subscriber or machine is given. Text that is no address is kept
   as it is. Writes at most n bytes (BO_NETADDR_KEY_MAX is enough). */
void bo_netaddr_client_key(const char *ip, char *out, size_t n);

/* True if addr (AF_INET or AF_INET6) is one no outbound call may reach by
   name: unspecified (0.0.0.0/8, ::), loopback (127.0.0.0/8, ::1), private
   (10/8, 172.16/12, 192.168/16, fc00::/7), shared (100.64/10), link-local
   (169.254/16 with the cloud metadata service 169.254.169.254, fe80::/10),
   AWS's IPv6 metadata fd00:ec2::254, multicast and reserved, and the IPv4
   ones mapped into IPv6 or reached through NAT64 (64:ff9b::/96). */
bool bo_netaddr_internal(const struct sockaddr *addr);

/* True if addr is the address the text ip names (an IPv4 address also
   matches itself mapped into IPv6). */
bool bo_netaddr_is(const struct sockaddr *addr, const char *ip);

#endif
