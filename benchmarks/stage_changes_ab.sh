#!/usr/bin/env bash
# Back-to-back A/B on one machine: the stage changes of this session against the earlier behaviour.
set -eu
cd /work/quick
export PATH=/work/main/.venv/bin:$PATH PYTHONPATH=/work/quick/src DVC_NO_ANALYTICS=1
t() { local s=$(date +%s.%N); "$@" > /dev/null 2>&1; python3 -c "print(round($(date +%s.%N)-$s,1))"; }
clear() { rm -rf data/resume/finetune data/resume/eval-*; }
cat /proc/pressure/cpu | head -1
echo "bootstrap 0, 2 workers largest first: $(t computematch bootstrap --world 0)"
sed -i 's/^  worker_processes: auto/  worker_processes: 3   /' params.yaml
echo "bootstrap 0, 3 processes (before): $(t computematch bootstrap --world 0)"
sed -i 's/^  worker_processes: 3   /  worker_processes: auto/' params.yaml
clear; echo "finetune se wc se (one stage): $(t computematch finetune se wc se)"
clear; echo "finetune se wc + se se (two stages): $(t computematch finetune se wc) + $(t computematch finetune se se)"
clear; computematch finetune se wc se > /dev/null 2>&1
echo "evaluate se-wc se-se (one stage): $(t computematch evaluate se-wc se-se)"
rm -rf data/resume/eval-*
echo "evaluate se-wc + se-se (two stages): $(t computematch evaluate se-wc) + $(t computematch evaluate se-se)"
