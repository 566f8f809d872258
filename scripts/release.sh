#!/usr/bin/env bash
# Cuts a release: bumps VERSION (and the Helm chart's version), moves the
# CHANGELOG's Unreleased notes under the new version (or, if there are none,
# lists the commit subjects since the last tag), commits and tags vX.Y.Z.
#
#   scripts/release.sh patch|minor|major     (make release-patch|minor|major)
#   DRY_RUN=1 scripts/release.sh minor       print what would happen, change nothing
#
# RELEASE_DATE (YYYY-MM-DD) overrides today's UTC date in the entry.
# Pushing is left to you: git push --follow-tags.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "release: $*" >&2; exit 1; }

part=${1:-}
case "$part" in patch | minor | major) ;; *) die "usage: $0 patch|minor|major" ;; esac

current=$(tr -d '[:space:]' <VERSION)
[[ $current =~ ^([0-9]+)\.([0-9]+)\.([0-9]+)$ ]] || die "VERSION holds '$current', not X.Y.Z"
major=${BASH_REMATCH[1]} minor=${BASH_REMATCH[2]} patch=${BASH_REMATCH[3]}
case "$part" in
  major) next="$((major + 1)).0.0" ;;
  minor) next="$major.$((minor + 1)).0" ;;
  patch) next="$major.$minor.$((patch + 1))" ;;
esac
tag="v$next"
day=${RELEASE_DATE:-$(date -u +%Y-%m-%d)}

[ -f CHANGELOG.md ] || die "CHANGELOG.md is missing"
grep -q '^## \[Unreleased\]' CHANGELOG.md || die "CHANGELOG.md has no '## [Unreleased]' section"
if git rev-parse -q --verify "refs/tags/$tag" >/dev/null; then
  die "tag $tag already exists"
fi

# The notes: the Unreleased section if it says anything, else the commits
# since the previous release's tag (all of them if there is none).
notes=$(awk '/^## \[Unreleased\]/ {f = 1; next} f && /^## / {exit} f' CHANGELOG.md |
  sed -e :a -e '/^\n*$/{$d;N;ba' -e '}' | sed '/./,$!d')
if [ -z "$notes" ]; then
  range=HEAD
  if git rev-parse -q --verify "refs/tags/v$current" >/dev/null; then
    range="v$current..HEAD"
  fi
  commits=$(git log --no-merges --format='- %s' "$range")
  [ -n "$commits" ] || die "nothing to release: no Unreleased notes and no commits in $range"
  notes=$(printf '### Changed\n\n%s' "$commits")
fi
entry=$(printf '## [%s] - %s\n\n%s\n' "$next" "$day" "$notes")

echo "release: $current -> $next ($part)"
echo "tag: $tag"
echo "changelog entry:"
echo "$entry"

if [ -n "${DRY_RUN:-}" ] && [ "${DRY_RUN}" != 0 ]; then
  echo "dry run: nothing changed"
  exit 0
fi

git diff --quiet && git diff --cached --quiet || die "the working tree has uncommitted changes"

entry_file=$(mktemp)
trap 'rm -f "$entry_file"' EXIT
printf '%s\n\n' "$entry" >"$entry_file"
awk -v entry="$entry_file" '
  /^## \[Unreleased\]/ { print; print ""; while ((getline line < entry) > 0) print line; skipping = 1; next }
  skipping && /^## / { skipping = 0 }
  skipping { next }
  { print }
' CHANGELOG.md >CHANGELOG.md.new
mv CHANGELOG.md.new CHANGELOG.md
echo "$next" >VERSION
files=(VERSION CHANGELOG.md)
chart=deploy/helm/fireflow/Chart.yaml
if [ -f "$chart" ]; then
  sed -i -e "s/^version: .*/version: $next/" -e "s/^appVersion: .*/appVersion: \"$next\"/" "$chart"
  files+=("$chart")
fi
git add "${files[@]}"
git commit -q -m "Release $tag" -m "$notes"
git tag -a "$tag" -m "FireFlow $next"
echo "committed and tagged $tag; publish with: git push --follow-tags"
