#!/bin/bash
# The block length comes from the model's spec: on a 130 s flow a model with
# 2 s blocks gives 65 blocks (t = 0 .. 129.5 s), one with 60 s blocks gives 3.
. "$(dirname "$0")/common.sh"
tt_setup
cap=$TT_CAPS/long.pcap
tt_model "$TT_TMP/models/b2.ttm" --block-seconds 2 --min-packets 2
tt_model "$TT_TMP/models/b60.ttm" --block-seconds 60
tt_fix_owner
nb() {
    tt_tshark -r "$cap" -2 -o triage.threshold:0 -o "triage.model:$1" -Y triage \
        -T fields -e triage.flow -e triage.block | sort -u | wc -l
}
n2=$(nb "$TT_TMP/models/b2.ttm")
n60=$(nb "$TT_TMP/models/b60.ttm")
expect_eq "$n2" 65 "2 s blocks over 130 s"
expect_eq "$n60" 3 "60 s blocks over 130 s"
expect_eq "$(tt_tshark -r "$cap" -2 -o "triage.model:$TT_TMP/models/b2.ttm" -T fields -e triage.packets | sort -u)" 4 "4 packets per 2 s block"
echo "PASS"
