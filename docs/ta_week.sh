#!/usr/bin/env bash
# A TA's week with the kit, in the order it happens: the commands of the README's "For TAs", run on
# one LMS download.  tests/test_ta_week.py runs this file as it is, on a fresh class.
#
#   DOWNLOAD=day15_download.zip docs/ta_week.sh
#
# What it reads (environment; only DOWNLOAD is required):
#   DOWNLOAD          the LMS's bulk download (Canvas, Moodle or Blackboard zip; any class form works)
#   GRADES            the output folder (default: grades-week8/ in the kit)
#   DUE, LATE_POLICY  the due time and what lateness costs (README, "Late work")
#   LMS_ASSIGNMENT    the Canvas gradebook column, "<name> (<assignment id>)" of the Canvas assignment
#   REGRADE_STUDENT   a student to regrade alone later in the week (their folder name in GRADES)
#   REGRADE_DOWNLOAD  the LMS's download that holds their new attempt (default: DOWNLOAD)
#   TRY_UPLOAD        one student's upload (their make-submit zip or files), to try the Gradescope
#   TRY_STUDENT       autograder on before uploading it; with TRY_STUDENT (their folder in GRADES) the
#                     script checks that Gradescope's points are make grade's (the raw points)
#   GRADESCOPE_DAY    the day of the Gradescope assignment (default 15)
#   UNSAFE=1          grade without the sandbox (only where the kernel allows none; trusted code only)
#   MAKE              the make command (default make)
set -euo pipefail
KIT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MAKE="${MAKE:-make}"
: "${DOWNLOAD:?give DOWNLOAD=path/to/the/lms/download.zip}"
GRADES="${GRADES:-$KIT/grades-week8}"
DUE="${DUE:-2026-12-01T23:59}"
LATE_POLICY="${LATE_POLICY:-10%/day,cap=50%,grace=15m}"
LMS_ASSIGNMENT="${LMS_ASSIGNMENT:-Day 15}"
GRADESCOPE_DAY="${GRADESCOPE_DAY:-15}"
SAFETY=()
if [ -n "${UNSAFE:-}" ]; then SAFETY=(UNSAFE=1); fi

# 1. After the due time: grade the whole download.  Student ids come from the LMS's names, each
#    student's time from the download (late work costs what LATE_POLICY says).
$MAKE -C "$KIT" grade SUBMISSIONS="$DOWNLOAD" OUT="$GRADES" DUE="$DUE" LATE_POLICY="$LATE_POLICY" \
    LMS_ASSIGNMENT="$LMS_ASSIGNMENT" "${SAFETY[@]}"

# 2. Later: one student re-uploads (an extension, a fixed file).  Download the assignment again and
#    regrade that student alone; everyone else keeps their results; gradebook and LMS files are rebuilt.
if [ -n "${REGRADE_STUDENT:-}" ]; then
    $MAKE -C "$KIT" grade SUBMISSIONS="${REGRADE_DOWNLOAD:-$DOWNLOAD}" OUT="$GRADES" STUDENT="$REGRADE_STUDENT" \
        DUE="$DUE" LATE_POLICY="$LATE_POLICY" LMS_ASSIGNMENT="$LMS_ASSIGNMENT" "${SAFETY[@]}"
fi

# 3. What goes where.
echo "Canvas:  Grades > Import:                          $GRADES/canvas_grades.csv"
if [ -f "$GRADES/moodle_grades.csv" ]; then
    echo "Moodle:  Assignment > Upload grading worksheet:    $GRADES/moodle_grades.csv"
    echo "         Upload multiple feedback files in a zip:  $GRADES/moodle_feedback.zip"
fi
echo "Students: $GRADES/<student>/feedback.html; the class: $GRADES/gradebook.csv, $GRADES/summary.txt"

# 4. Gradescope: the autograder zip to upload there (never to students).
$MAKE -C "$KIT" gradescope DAY="$GRADESCOPE_DAY"
AUTOGRADER_ZIP="$KIT/dist/gradescope_autograder_day$GRADESCOPE_DAY.zip"
echo "Gradescope: upload $AUTOGRADER_ZIP as the assignment's autograder"

# 5. Before uploading it: run it on one upload in Gradescope's layout (/autograder/source, /submission,
#    /results), in a temporary folder, the way Gradescope does.
if [ -n "${TRY_UPLOAD:-}" ]; then
    ROOT="$(mktemp -d)/autograder"
    mkdir -p "$ROOT/source" "$ROOT/submission"
    "$KIT/.venv/bin/python" -m zipfile -e "$AUTOGRADER_ZIP" "$ROOT/source"
    cp "$ROOT/source/run_autograder" "$ROOT/run_autograder"
    cp -r "$TRY_UPLOAD" "$ROOT/submission/"
    AUTOGRADER_ROOT="$ROOT" AUTOGRADER_PYTHON="$KIT/.venv/bin/python" bash "$ROOT/run_autograder"
    echo "Gradescope's results: $ROOT/results/results.json"
    if [ -n "${TRY_STUDENT:-}" ]; then
        "$KIT/.venv/bin/python" - "$ROOT/results/results.json" "$GRADES/$TRY_STUDENT/results.json" <<'EOF'
import json, sys
gradescope, local = (json.load(open(path, encoding="utf-8")) for path in sys.argv[1:])
same = gradescope["score"] == local["score"]
print(f"Gradescope {gradescope['score']:g} points, make grade {local['score']:g}: {'the same' if same else 'DIFFERENT'}")
sys.exit(0 if same else 1)
EOF
    fi
fi
