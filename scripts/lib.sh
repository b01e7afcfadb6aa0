#!/usr/bin/env bash
# Shared shell helpers; `source` this file.

# Reads KEY=VALUE lines from a dotenv file without overriding variables already set (the same
# rule as dotenvy). Not `source`d: values such as QUOTE_URL contain `&` and `{}`.
load_env_file() {
    local file=$1 line key val
    [[ -f $file ]] || return 0
    while IFS= read -r line || [[ -n $line ]]; do
        line=${line%$'\r'}
        [[ $line =~ ^[[:space:]]*(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)[[:space:]]*=(.*)$ ]] || continue
        key=${BASH_REMATCH[2]}
        val=${BASH_REMATCH[3]}
        val=${val#"${val%%[![:space:]]*}"}
        if [[ $val =~ ^\"([^\"]*)\"[[:space:]]*(#.*)?$ || $val =~ ^\'([^\']*)\'[[:space:]]*(#.*)?$ ]]; then
            val=${BASH_REMATCH[1]}
        else
            val=${val%%[[:space:]]#*}
            val=${val%"${val##*[![:space:]]}"}
        fi
        [[ -n ${!key+x} ]] && continue
        export "$key=$val"
    done <"$file"
}
