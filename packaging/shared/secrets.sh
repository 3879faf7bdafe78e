# Authentication (docs/security.md): the mode a node runs in, the credentials derived from its
# secret, and the files that hold them. A secret only ever travels through shell variables,
# builtins (printf) and pipes: never in a command's arguments, and never in a file that is not
# root's (or root's and a daemon's group) from the moment it is created. Needs render.sh.

MR_SECRETS=$MR_ETC/secrets

# mr_derive SECRET PURPOSE: D(SECRET, PURPOSE), the lower-case hex SHA-256 of
# mesos-roles:PURPOSE:SECRET (xtask::inputs::secrets::derive computes the same).
mr_derive() {
	set -- "$(printf 'mesos-roles:%s:%s' "$2" "$1" | sha256sum)"
	printf '%s\n' "${1%% *}"
}

# mr_auth SECRET_QUESTION SECRET INSECURE HOW: MR_AUTH becomes required, offered (credentials
# given, none required: the step of a switch-over), open (insecure, for a lab) or legacy (a node
# configured before authentication existed, which keeps running as it was). A node configured
# afresh without a secret is a bad answer. HOW says how to make the secret.
mr_auth() {
	if [ -n "$2" ]; then
		MR_AUTH=required
		[ "$3" != true ] || MR_AUTH=offered
	elif [ "$3" = true ]; then
		MR_AUTH=open
	elif [ -f "$MR_STATE/files" ] && { [ ! -f "$MR_STATE/auth" ] || [ "$(cat "$MR_STATE/auth")" = legacy ]; }; then
		MR_AUTH=legacy
	else
		printf '%s: refused %s: a configured node needs it (or %s/insecure true, for a lab without authentication). %s; set it with debconf-set-selections ("%s %s password ..."), then run dpkg --configure -a (or dpkg-reconfigure -fnoninteractive %s).\n' \
			"$MR_PKG" "$1" "$MR_PKG" "$4" "$MR_PKG" "$1" "$MR_PKG" >&2
		exit 1
	fi
}

# The node's mode, kept for the next run; a legacy node says once per run how to switch.
mr_auth_save() {
	if [ "$MR_AUTH" = legacy ]; then
		printf '%s: this node was configured before authentication and keeps running without it; to switch the cluster to authentication without downtime, follow "Switching a running cluster to authentication" in /usr/share/doc/%s/security.md\n' \
			"$MR_PKG" "$MR_PKG" >&2
	fi
	printf '%s\n' "$MR_AUTH" >"$MR_TMP/auth"
	mv -f "$MR_TMP/auth" "$MR_STATE/auth"
}

# mr_secrets_dir GROUP: $MR_SECRETS, root's (and GROUP's, read-only, when given) alone.
mr_secrets_dir() {
	if [ -L "$MR_SECRETS" ] || { [ -e "$MR_SECRETS" ] && [ ! -d "$MR_SECRETS" ]; }; then
		printf '%s: %s is not a directory but the role keeps its secrets there: move it away, then run dpkg --configure -a\n' \
			"$MR_PKG" "$MR_SECRETS" >&2
		exit 1
	fi
	if [ ! -d "$MR_SECRETS" ]; then
		mkdir -m 0700 "$MR_SECRETS"
		grep -qxF "$MR_SECRETS" "$MR_STATE/dirs" 2>/dev/null || printf '%s\n' "$MR_SECRETS" >>"$MR_STATE/dirs"
	fi
	chown "0:${1:-0}" "$MR_SECRETS"
	if [ -n "$1" ]; then chmod 0750 "$MR_SECRETS"; else chmod 0700 "$MR_SECRETS"; fi
}

# mr_secret PATH SERVICES GROUP CONTENT: PATH gets CONTENT exactly (no newline added: Marathon
# reads its secret byte for byte), mode 0600, or 0640 to GROUP, from its creation on; written whole
# and only when it changes. Unlike mr_put, no copy is kept and no edit merged: the file is the
# role's alone, rendered from the secret.
# shellcheck disable=SC2034 # MR_WROTE is for the callers
mr_secret() {
	mr_s_new=$MR_SECRETS/.new
	if [ -e "$mr_s_new" ] || [ -L "$mr_s_new" ]; then rm -f "$mr_s_new"; fi
	# umask 077 for this one file, then back to the scripts' 022 (common.sh): no subshell forked.
	umask 077
	printf '%s' "$4" >"$mr_s_new"
	umask 022
	if [ -n "$3" ]; then
		chgrp "$3" "$mr_s_new"
		chmod 0640 "$mr_s_new"
	fi
	MR_WROTE=
	if [ -L "$1" ] || ! cmp -s "$mr_s_new" "$1" ||
		[ "$(stat -c %a:%u:%G "$1")" != "$(stat -c %a:%u:%G "$mr_s_new")" ]; then
		mv -f "$mr_s_new" "$1"
		MR_WROTE=1
		mr_changed "$2"
	else
		rm -f "$mr_s_new"
	fi
	printf '%s %s\n' "$2" "$1" >>"$MR_TMP/files"
}
