# Asking in config: each answer is checked where it is given, and a refused one is explained
# (the bad-answer error template) and asked again.

# mr_ask PRIORITY QUESTION CHECK [ARG]: ask QUESTION, check it with CHECK [ARG] ANSWER.
# Returns 0 with the normal form in MR_ANSWER; returns 1 when the answer is bad and this frontend
# cannot ask (noninteractive), or after 5 refusals (a frontend reading a closed stdin would
# answer the same forever): postinst then refuses it with one message.
mr_ask() {
	mr_ask_prio=$1 mr_ask_q=$2 mr_ask_check=$3 mr_ask_tries=0
	shift 3
	while [ $mr_ask_tries -lt 5 ]; do
		mr_ask_tries=$((mr_ask_tries + 1))
		db_input "$mr_ask_prio" "$mr_ask_q" || true
		# shellcheck disable=SC2119 # GO takes no argument
		db_go || true
		db_get "$mr_ask_q"
		if mr_check "$mr_ask_check" "$@" "$RET"; then
			MR_ANSWER=$MR_OUT
			return 0
		fi
		db_subst "$MR_PKG/bad-answer" QUESTION "$mr_ask_q"
		db_subst "$MR_PKG/bad-answer" MESSAGE "$MR_ERR"
		# An error template is shown whatever its seen flag when the frontend can show it (rc 0).
		# Marked seen, the noninteractive frontend neither prints nor mails it (rc 30).
		db_fset "$MR_PKG/bad-answer" seen true
		db_input critical "$MR_PKG/bad-answer" || return 1
		# shellcheck disable=SC2119 # GO takes no argument
		db_go || true
		# Ask again even if the question is below the chosen priority.
		db_fset "$mr_ask_q" seen false
		mr_ask_prio=critical
	done
	return 1
}

# Store the normal form, so that the ids given by position stay pinned when the list is edited.
mr_set_normal() { # QUESTION VALUE
	db_get "$1"
	[ "$RET" = "$2" ] || db_set "$1" "$2"
}

# mr_ask_normal PRIORITY QUESTION CHECK [ARG...]: mr_ask, then store the normal form.
mr_ask_normal() {
	mr_an_q=$2
	if mr_ask "$@"; then
		mr_set_normal "$mr_an_q" "$MR_ANSWER"
	fi
}

# A host that may be left empty (it then defaults to self, or to the agent's ip).
mr_host_opt() {
	[ -n "$(mr__trim "$1")" ] || return 0
	mr_host "$1"
}

# An admin's edit of a generated file becomes the answer to its question, unless the answer
# changed in debconf (preseeded) since the files were rendered from it: then the answer wins.
# Only an edit that the question accepts is imported, as its normal form (so nothing but one line
# of printable ASCII reaches the debconf protocol); otherwise the answer stays, the file stays as
# the admin left it, and one line says what was kept and why.
# mr_readback QUESTION FILE READ CHECK [ARG]: READ FILE prints the value, or fails with the reason;
# CHECK [ARG] VALUE checks it as mr_check does.
mr_readback() {
	mr_rb_q=$1 mr_rb_f=$2 mr_rb_read=$3
	shift 3
	mr_edited "$mr_rb_f" && [ -f "$MR_STATE/answers" ] || return 0
	db_get "$mr_rb_q"
	[ "$RET" = "$(awk -v q="$mr_rb_q=" 'index($0, q) == 1 { print substr($0, length(q) + 1) }' "$MR_STATE/answers")" ] || return 0
	if ! mr_rb_v=$("$mr_rb_read" "$mr_rb_f" 2>/dev/null); then
		mr_rb_why=$("$mr_rb_read" "$mr_rb_f" 2>&1 >/dev/null) || true
	elif [ -z "$mr_rb_v" ]; then
		return 0
	elif mr_check "$@" "$mr_rb_v"; then
		[ "$MR_OUT" = "$RET" ] || db_set "$mr_rb_q" "$MR_OUT"
		return 0
	else
		mr_rb_why=$MR_ERR
	fi
	printf '%s: kept %s = %s: your edit of %s is not an answer it accepts: %s\n' \
		"$MR_PKG" "$mr_rb_q" "$(mr__q "$RET")" "$mr_rb_f" "$mr_rb_why" >&2
}

# The value of a generated file that holds one value: its one line (the newline at the end is
# optional). A second line or a NUL byte is refused, not read: it would break the debconf protocol.
mr_file_value() (
	v=$(cat "$1" && echo .) || return 1
	v=${v%.}
	v=${v%"$MR_NL"}
	case $v in
	*"$MR_NL"*) mr__err "it has $(printf '%s\n' "$v" | wc -l) lines, and the file holds one value on one line"; return 1 ;;
	esac
	[ "$(tr -d '\000' <"$1" | wc -c)" -eq "$(wc -c <"$1")" ] || { mr__err "it has a NUL byte"; return 1; }
	printf '%s\n' "$v"
)

# mr_key_value PREFIX FILE: the value of the line of FILE that starts with PREFIX (the last such
# line), as mr_file_value reads a one-value file; fails when there is none.
mr_key_value() (
	v=$(awk -v p="$1" 'index($0, p) == 1 { v = substr($0, length(p) + 1); n++ } END { if (n) print v; exit !n }' "$2") || {
		mr__err "it has no line $1..."
		return 1
	}
	printf '%s\n' "$v"
)
