# Helpers shared by the ship tests (POSIX sh). Sourced, not run.

fail() {
    printf 'FAIL: %s\n' "$*" >&2
    exit 1
}

# Renders a man page to plain text, wide and without hyphenation, so that words and entries can
# be looked up reliably.
render_man() {
    MANWIDTH=200 MANROFFOPT='-rHY=0' man -l "$1" 2>/dev/null | col -bx
}

# Prints the entry lines of section $1 of rendered page text on stdin: the lines at the section's
# shallowest indentation (definition-list terms and top-level paragraphs, not their bodies).
section_entries() {
    awk -v want="$1" '
        /^[A-Z][A-Z0-9 ]*$/ { in_section = ($0 == want); next }
        !in_section || /^[[:space:]]*$/ { next }
        {
            match($0, /^ */)
            n++; line[n] = substr($0, RLENGTH + 1); indent[n] = RLENGTH
            if (min == "" || RLENGTH < min) min = RLENGTH
        }
        END { for (i = 1; i <= n; i++) if (indent[i] == min) print line[i] }'
}

# Prints the names that section $1 defines as entries: the first word of every entry line.
section_terms() {
    section_entries "$1" | awk '{ print $1 }'
}

# Prints every option (a word starting with -) named on an entry line of section $1.
section_options() {
    section_entries "$1" | tr ' ,[]|()' '\n\n\n\n\n\n\n' | grep -e '^-' || true
}

# Runs `meson install` of the build in $CLIPD_BUILD_ROOT into $1/root, with $MESON.
install_into() {
    [ -n "${CLIPD_BUILD_ROOT:-}" ] || fail "CLIPD_BUILD_ROOT is not set (run through meson test)"
    "$MESON" install -C "$CLIPD_BUILD_ROOT" --destdir "$1/root" --no-rebuild --quiet \
        >"$1/install.log" 2>&1 || {
        cat "$1/install.log" >&2
        fail "meson install --destdir failed (are all targets built? run ninja first)"
    }
}
