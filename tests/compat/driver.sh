# driver.sh - the matrix runner's loop and report, sourced last by run.sh
# after the client functions.  For every client and check: n/a, or the
# check on both paths; the verdict is the gateway's, the direct run says
# whether a failure is the gateway's.

declare -A RES=() NOTE=()
BAD=0
ONLY=${COMPAT_CLIENTS:-$CLIENTS}
for CLIENT in $ONLY; do
	VER=$("v_$CLIENT" 2>/dev/null | head -n 1)
	VERS[$CLIENT]=${VER:-not installed}
	for k in $CHECKS; do
		key=$CLIENT:$k
		if [ -n "${NA[$key]:-}" ] || ! declare -F "t_${CLIENT}_$k" >/dev/null; then
			RES[$key]=n/a; NOTE[$key]=${NA[$key]:-not checked}
			continue
		fi
		if [ -z "$VER" ]; then
			RES[$key]=fails; NOTE[$key]="client not installed"
			echo "not ok - $key: client not installed"; BAD=$((BAD + 1))
			continue
		fi
		declare -A R=()
		for path in direct gw; do
			use_path "$path"
			TAG=$CLIENT-$path-$k; export CX_TAG=$TAG
			if ( "t_${CLIENT}_$k" ) >"$T/out-$TAG" 2>&1 </dev/null; then
				R[$path]=works
			else
				R[$path]=fails
			fi
		done
		note=$(grep -v '^$' "$T/out-$CLIENT-gw-$k" | tail -n 1 | cut -c1-100)
		dnote=$(grep -v '^$' "$T/out-$CLIENT-direct-$k" | tail -n 1 | cut -c1-100)
		want=works
		case ${EXPECT[$key]:-} in fails*) want=fails ;; esac
		RES[$key]=${R[gw]}
		if [ "${R[gw]}" = works ]; then
			NOTE[$key]=$note
			[ "${R[direct]}" = works ] || NOTE[$key]="$note (direct fails: $dnote)"
		elif [ "${R[direct]}" = works ]; then
			NOTE[$key]="gateway only: $note"
		else
			NOTE[$key]="fails direct too: $dnote"
		fi
		if [ "${R[gw]}" = "$want" ]; then
			echo "ok - $key: ${R[gw]} (direct ${R[direct]}) ${NOTE[$key]}"
		else
			echo "not ok - $key: ${R[gw]}, expected $want (direct ${R[direct]}) ${NOTE[$key]}"
			[ "$want" = fails ] && echo "#   update EXPECT in tests/compat/run.sh"
			sed 's/^/#   gw: /' "$T/out-$CLIENT-gw-$k" | tail -n 5
			BAD=$((BAD + 1))
		fi
		[ "$want" = fails ] && NOTE[$key]="${NOTE[$key]}; expected: ${EXPECT[$key]#fails: }"
	done
done

# The matrix: a row per client, a column per check, then the notes.
{
	echo "| client | version | $(echo $CHECKS | sed 's/ / | /g') |"
	echo "| --- | --- |$(for k in $CHECKS; do printf ' --- |'; done)"
	for CLIENT in $ONLY; do
		printf '| %s | %s |' "$CLIENT" "${VERS[$CLIENT]}"
		for k in $CHECKS; do printf ' %s |' "${RES[$CLIENT:$k]}"; done
		echo
	done
	echo
	echo "Notes (through the gateway unless said):"
	echo
	for CLIENT in $ONLY; do
		for k in $CHECKS; do
			n=${NOTE[$CLIENT:$k]:-}
			[ -n "$n" ] && [ "${RES[$CLIENT:$k]}" != n/a ] &&
				echo "- $CLIENT $k: ${RES[$CLIENT:$k]}, $n"
		done
		for k in $CHECKS; do
			[ "${RES[$CLIENT:$k]}" = n/a ] && echo "- $CLIENT $k: n/a, ${NOTE[$CLIENT:$k]}"
		done
	done
} > "$OUT/matrix.md"
echo
cat "$OUT/matrix.md"
echo
echo "matrix written to $OUT/matrix.md; $BAD unexpected cell(s)"
[ "$BAD" = 0 ]
