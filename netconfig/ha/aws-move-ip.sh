#!/usr/bin/env bash
# gatepeer ha hook for AWS (ha.hook.path): on MASTER, moves the links' outer addresses
# (secondary private IPs, registered with the VPG) to this instance's network interface
# on the underlay, and, when AWS_ROUTE_TABLES is set, points the route tables' device
# routes at that interface. gatepeer ha notify runs it as `HOOK STATE` with
#   GATEPEER_HA_STATE             MASTER, BACKUP, FAULT, STOP or DELETED
#   GATEPEER_HA_OUTER_ADDRESSES   the links' outer addresses, space-separated
#   GATEPEER_HA_INTERFACE         the underlay device (ha's VRRP interface)
# and kills it after ha.hook.timeoutSeconds. Not run by the tests (`bash -n` only).
#
# Needs: the aws CLI v2 and an instance role allowing ec2:AssignPrivateIpAddresses (and
# ec2:ReplaceRoute for AWS_ROUTE_TABLES); source/destination check off on both ENIs; both
# instances' ENIs in the same subnet (a secondary IP moves only within its subnet).
# Settings (optional) in /etc/gatepeer/ha/aws.env:
#   AWS_ROUTE_TABLES="rtb-0123 rtb-4567"          route tables the backends use
#   AWS_DEVICE_PREFIXES="10.128.0.0/9 192.168.10.0/24"
set -euo pipefail
state=${1:-${GATEPEER_HA_STATE:-}}
[ "$state" = MASTER ] || exit 0            # BACKUP/FAULT: the other node claims the address
[ -r /etc/gatepeer/ha/aws.env ] && . /etc/gatepeer/ha/aws.env

imds=http://169.254.169.254/latest
token=$(curl -sfS -X PUT "$imds/api/token" -H "X-aws-ec2-metadata-token-ttl-seconds: 60")
meta() { curl -sfS -H "X-aws-ec2-metadata-token: $token" "$imds/meta-data/$1"; }
mac=$(cat "/sys/class/net/${GATEPEER_HA_INTERFACE:?}/address")
eni=$(meta "network/interfaces/macs/$mac/interface-id")
region=$(meta placement/region)

# --allow-reassignment takes the addresses from the other instance's ENI in one call.
# shellcheck disable=SC2086
aws ec2 assign-private-ip-addresses --region "$region" --network-interface-id "$eni" \
  --allow-reassignment --private-ip-addresses ${GATEPEER_HA_OUTER_ADDRESSES:?}

for rtb in ${AWS_ROUTE_TABLES:-}; do
  for prefix in ${AWS_DEVICE_PREFIXES:-10.128.0.0/9}; do
    aws ec2 replace-route --region "$region" --route-table-id "$rtb" \
      --destination-cidr-block "$prefix" --network-interface-id "$eni"
  done
done
