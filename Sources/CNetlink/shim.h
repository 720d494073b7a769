// The C surface gatepeer's netlink codec uses: the kernel's uapi headers for message
// layouts and constants. Encoding and decoding are gatepeer's own (NetlinkWriter,
// NetlinkReader); no netlink library is linked.
#ifndef GATEPEER_CNETLINK_SHIM_H
#define GATEPEER_CNETLINK_SHIM_H
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/if_link.h>
#include <linux/if_addr.h>
#include <linux/neighbour.h>
#include <linux/netconf.h>
#include <linux/if_ether.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include <net/if.h>
#include <sys/socket.h>
#include <errno.h>
#endif
