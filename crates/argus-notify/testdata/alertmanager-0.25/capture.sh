#!/bin/sh
# Re-captures page-webhook.json from a real Alertmanager 0.25 (Debian package
# prometheus-alertmanager): starts it on loopback with alertmanager.yml, posts
# page-alerts.json, and stores the webhook body it sends to receiver.py.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
cd "$work"
sed "s#/tmp/amcmp#$work#" "$here/receiver.py" > receiver.py
python3 receiver.py & recv=$!
prometheus-alertmanager --config.file="$here/alertmanager.yml" --storage.path="$work/data" \
  --web.listen-address=127.0.0.1:19093 --cluster.listen-address= \
  --web.external-url=http://am.example:9093/x > am.log 2>&1 & am=$!
trap 'kill $am $recv 2>/dev/null; rm -rf "$work"' EXIT
sleep 2
curl -s -XPOST -H 'Content-Type: application/json' \
  127.0.0.1:19093/x/api/v2/alerts -d @"$here/page-alerts.json"
sleep 3
cp body1.json "$here/page-webhook.json"
