#!/usr/bin/env bash
# gatepeer ha hook for Azure (ha.hook.path): on MASTER, moves the links' outer addresses
# (secondary IP configurations, registered with the VPG) from the other VM's NIC to this
# VM's, and, when AZURE_ROUTE_TABLE is set, points its device routes at this VM.
# Arguments and environment as in aws-move-ip.sh (GATEPEER_HA_STATE,
# GATEPEER_HA_OUTER_ADDRESSES, GATEPEER_HA_INTERFACE). Not run by the tests (`bash -n`).
#
# Needs: the az CLI logged in with the VM's managed identity (`az login --identity`), a
# role allowing Microsoft.Network/networkInterfaces/write on both NICs (and routeTables
# for AZURE_ROUTE_TABLE); IP forwarding enabled on both NICs. Settings in
# /etc/gatepeer/ha/azure.env:
#   AZURE_RESOURCE_GROUP=rg-gatepeer
#   AZURE_THIS_NIC=gatepeer-a-nic    AZURE_PEER_NIC=gatepeer-b-nic
#   AZURE_ROUTE_TABLE=rt-backends    AZURE_DEVICE_PREFIXES="10.128.0.0/9"   (optional)
#   AZURE_THIS_ADDRESS=172.31.0.11   (this VM's own address: the routes' next hop)
# The IP configurations are found by name: gatepeer-outer-0, -1, ... in the order of
# GATEPEER_HA_OUTER_ADDRESSES (the links' order). Create the first one under that name
# (docs/ha.md, "Cloud specifics"); under another name the delete below finds nothing,
# and the create fails because the other NIC still holds the address.
# Without AZURE_ROUTE_TABLE, a route whose next hop is the floating address itself
# follows the IP configuration with no step here.
set -euo pipefail
state=${1:-${GATEPEER_HA_STATE:-}}
[ "$state" = MASTER ] || exit 0
. /etc/gatepeer/ha/azure.env
rg=${AZURE_RESOURCE_GROUP:?}

n=0
for addr in ${GATEPEER_HA_OUTER_ADDRESSES:?}; do
  name="gatepeer-outer-$n"; n=$((n + 1))
  # An address can sit on one NIC only: delete it from the other NIC first (it may be
  # gone already, after a failover the other way), then add it here.
  az network nic ip-config delete -g "$rg" --nic-name "${AZURE_PEER_NIC:?}" -n "$name" --only-show-errors || true
  az network nic ip-config create -g "$rg" --nic-name "${AZURE_THIS_NIC:?}" -n "$name" \
    --private-ip-address "$addr" --only-show-errors >/dev/null
done

if [ -n "${AZURE_ROUTE_TABLE:-}" ]; then
  i=0
  for prefix in ${AZURE_DEVICE_PREFIXES:-10.128.0.0/9}; do
    az network route-table route create -g "$rg" --route-table-name "$AZURE_ROUTE_TABLE" \
      -n "gatepeer-devices-$i" --address-prefix "$prefix" --next-hop-type VirtualAppliance \
      --next-hop-ip-address "${AZURE_THIS_ADDRESS:?}" --only-show-errors >/dev/null
    i=$((i + 1))
  done
fi
