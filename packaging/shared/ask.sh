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

# A host that may be left empty (it then defaults to self, or to the agent's ip).
mr_host_opt() {
	[ -n "$(mr__trim "$1")" ] || return 0
	mr_host "$1"
}

# An admin's edit of a generated file becomes the default of its question, unless the answer
# changed in debconf (preseeded) since the files were rendered from it: then the answer wins.
mr_readback() { # QUESTION FILE [FILTER...]: the answer is FILTER's output on FILE, or FILE itself
	mr_rb_q=$1 mr_rb_f=$2
	shift 2
	mr_edited "$mr_rb_f" && [ -f "$MR_STATE/answers" ] || return 0
	db_get "$mr_rb_q"
	[ "$RET" = "$(awk -v q="$mr_rb_q=" 'index($0, q) == 1 { print substr($0, length(q) + 1) }' "$MR_STATE/answers")" ] || return 0
	if [ $# -gt 0 ]; then
		mr_rb_v=$("$@" <"$mr_rb_f")
	else
		mr_rb_v=$(cat "$mr_rb_f")
	fi
	[ -z "$mr_rb_v" ] || [ "$mr_rb_v" = "$RET" ] || db_set "$mr_rb_q" "$mr_rb_v"
}
