# Shared by bin/start and bin/test: make .venv and install a requirements file into it,
# skipping pip when the file has not changed since the last install.
ensure_venv() {
    local requirements="$1"
    local python="${PYTHON:-python3}"
    if [ ! -x .venv/bin/python ]; then
        echo "Creating .venv with $($python --version)"
        "$python" -m venv .venv
    fi
    # shellcheck disable=SC1091
    source .venv/bin/activate
    local stamp=".venv/.installed-$(basename "$requirements")"
    local digest
    digest="$(cat requirements*.txt | sha256sum | cut -d' ' -f1)"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$digest" ]; then
        echo "Installing $requirements"
        python -m pip install --quiet --upgrade pip
        python -m pip install --quiet -r "$requirements"
        # Packages whose declared dependencies are stale (reasons in the file).
        python -m pip install --quiet --no-deps -r requirements-nodeps.txt
        echo "$digest" > "$stamp"
    fi
}
