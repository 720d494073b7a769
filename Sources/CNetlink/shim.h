// The C surface gatepeer uses: libmnl for sockets, message building, batching and
// attribute walking; the kernel's uapi headers for message layouts and constants.
#ifndef GATEPEER_CNETLINK_SHIM_H
#define GATEPEER_CNETLINK_SHIM_H
#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/if_link.h>
#include <linux/if_addr.h>
#include <linux/neighbour.h>
#include <linux/if_ether.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include <net/if.h>
#include <sys/socket.h>
#include <errno.h>
#endif
