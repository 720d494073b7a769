#!/usr/bin/env bash
# gatepeer ha hook for Google Cloud (ha.hook.path): on MASTER, moves the links' outer
# addresses (alias IP ranges /32, registered with the VPG) from the other instance's NIC
# to this one's, and, when GCP_ROUTE_PREFIXES is set, re-creates the device routes with
# this instance as next hop (GCP routes cannot be changed in place). Arguments and
# environment as in aws-move-ip.sh. Not run by the tests (`bash -n`).
#
# Needs: the gcloud CLI with the instance's service account allowed
# compute.instances.updateNetworkInterface (and compute.routes.* for routes); both
# instances created with --can-ip-forward, in one subnet. --aliases replaces a NIC's whole
# alias list and the other instance's list is emptied below: keep no other alias ranges
# on GCP_NIC. Settings in
# /etc/gatepeer/ha/gcp.env:
#   GCP_ZONE=europe-west1-b  GCP_THIS=gatepeer-a  GCP_PEER=gatepeer-b  GCP_NIC=nic0
#   GCP_NETWORK=vpc-main GCP_ROUTE_PREFIXES="10.128.0.0/9"   (optional)
set -euo pipefail
state=${1:-${GATEPEER_HA_STATE:-}}
[ "$state" = MASTER ] || exit 0
. /etc/gatepeer/ha/gcp.env
nic=${GCP_NIC:-nic0}

aliases=""
for addr in ${GATEPEER_HA_OUTER_ADDRESSES:?}; do aliases="${aliases:+$aliases;}$addr/32"; done
# The other instance gives the ranges up first (an alias range lives on one NIC only).
gcloud compute instances network-interfaces update "${GCP_PEER:?}" --zone "${GCP_ZONE:?}" \
  --network-interface "$nic" --aliases "" --quiet || true
gcloud compute instances network-interfaces update "${GCP_THIS:?}" --zone "$GCP_ZONE" \
  --network-interface "$nic" --aliases "$aliases" --quiet

i=0
for prefix in ${GCP_ROUTE_PREFIXES:-}; do
  name="gatepeer-devices-$i"; i=$((i + 1))
  gcloud compute routes delete "$name" --quiet || true
  gcloud compute routes create "$name" --network "${GCP_NETWORK:?}" --destination-range "$prefix" \
    --next-hop-instance "$GCP_THIS" --next-hop-instance-zone "$GCP_ZONE" --quiet
done
