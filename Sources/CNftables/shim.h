// libnftables: gatepeer hands it whole transactions as text and reads listings as JSON.
#ifndef GATEPEER_CNFTABLES_SHIM_H
#define GATEPEER_CNFTABLES_SHIM_H
#include <nftables/libnftables.h>
#endif
