#!/usr/bin/env bash
# Shows that the AWS CLI (v1 or v2) works against the proving ground's AWS endpoint, unmodified:
# DescribeInstanceInformation with a tag filter and --max-items paging, GetSecretValue, SendCommand and
# ListCommandInvocations --details, and EC2 DescribeTags.
#
# Usage: cli-check.sh ENDPOINT    (e.g. the "awsEndpoint" that `npm run proving-ground` prints)
# Environment (defaults in brackets):
#   AWS_REGION [eu-west-1]  TAG_KEY [kasm:reconcile]  TAG_VALUE [true]  SECRET_ID [kasm/registration-token]
#   DOCUMENT [Test-Deliver]  PARAMETERS [{}] (JSON for --parameters)  AWS [aws] (the CLI to use)
# Prints one "ok: ..." line per check and exits non-zero at the first failure.
set -euo pipefail

endpoint="${1:?usage: cli-check.sh ENDPOINT}"
region="${AWS_REGION:-eu-west-1}"
tag_key="${TAG_KEY:-kasm:reconcile}"
tag_value="${TAG_VALUE:-true}"
secret_id="${SECRET_ID:-kasm/registration-token}"
document="${DOCUMENT:-Test-Deliver}"
parameters="${PARAMETERS:-{\}}"
cli="${AWS:-aws}"

# Dummy credentials: the proving ground accepts any SigV4 signature. No profile, no instance metadata.
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-AKIDPROVINGGROUND}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-not-a-secret}"
export AWS_EC2_METADATA_DISABLED=true
export AWS_PAGER=""

awscli() {
  "$cli" --endpoint-url "$endpoint" --region "$region" --output text "$@"
}

# A paginated command with --query prints the query once per page and once more for the resume token
# when --max-items cuts the result, so drop the "None" lines those extra evaluations print.
awscli_paged() {
  awscli "$@" | { grep -v '^None$' || true; }
}

fail() {
  echo "FAILED: $*" >&2
  exit 1
}

filters="[{\"Key\":\"tag:${tag_key}\",\"Values\":[\"${tag_value}\"]}]"

# 1. DescribeInstanceInformation, tag filter, paged by hand: 2 items at a time with --starting-token.
first_ids="$(awscli_paged ssm describe-instance-information --filters "$filters" --max-items 2 --page-size 5 \
  --query 'InstanceInformationList[].InstanceId')"
next_token="$(awscli_paged ssm describe-instance-information --filters "$filters" --max-items 2 --page-size 5 \
  --query 'NextToken' | tail -n 1)"
[[ "$(wc -w <<<"$first_ids")" -eq 2 ]] || fail "expected 2 ids on the first page, got: $first_ids"
[[ -n "$next_token" && "$next_token" != "None" ]] || fail "expected a NextToken after 2 of several nodes"
second_ids="$(awscli_paged ssm describe-instance-information --filters "$filters" --max-items 2 --page-size 5 \
  --starting-token "$next_token" --query 'InstanceInformationList[].InstanceId')"
[[ "$(wc -w <<<"$second_ids")" -ge 1 ]] || fail "expected ids on the second page"
for id in $second_ids; do
  [[ " $first_ids " != *" $id "* ]] || fail "node $id came back on two pages"
done
all_ids="$(awscli_paged ssm describe-instance-information --filters "$filters" --page-size 5 \
  --query 'InstanceInformationList[].InstanceId')"
echo "ok: describe-instance-information pages with --max-items 2 ($(wc -w <<<"$all_ids") tagged nodes in all)"

# 2. GetSecretValue.
secret_name="$(awscli secretsmanager get-secret-value --secret-id "$secret_id" --query Name)"
[[ "$secret_name" == "$secret_id" ]] || fail "get-secret-value answered name '$secret_name'"
echo "ok: get-secret-value found $secret_name"

# 3. SendCommand to the first online tagged node, then wait until its invocation is terminal.
# Tag filters can't be mixed with other filter keys: AWS answers ValidationException, so the online
# node is picked client-side from the tag-filtered list.
mixed="[{\"Key\":\"tag:${tag_key}\",\"Values\":[\"${tag_value}\"]},{\"Key\":\"PingStatus\",\"Values\":[\"Online\"]}]"
if mixed_error="$(awscli ssm describe-instance-information --filters "$mixed" 2>&1)"; then
  fail "a tag filter mixed with PingStatus was accepted"
fi
[[ "$mixed_error" == *"ValidationException"*"Cannot mix tag or inventory filter with any other filter."* ]] ||
  fail "mixing tag and PingStatus filters answered: $mixed_error"
echo "ok: describe-instance-information refuses a tag filter mixed with PingStatus"
target="$(awscli_paged ssm describe-instance-information --filters "$filters" \
  --query "InstanceInformationList[?PingStatus=='Online'] | [0].InstanceId" | head -n 1)"
[[ "$target" =~ ^m?i- ]] || fail "no online tagged node to send a command to"
command_id="$(awscli ssm send-command --document-name "$document" --instance-ids "$target" \
  --parameters "$parameters" --comment "cli-check" --query Command.CommandId)"
[[ "$command_id" =~ ^[0-9a-f-]{36}$ ]] || fail "send-command answered '$command_id'"
echo "ok: send-command $command_id to $target"

status=""
for _ in $(seq 1 50); do
  status="$(awscli ssm list-command-invocations --command-id "$command_id" --query 'CommandInvocations[0].Status')"
  [[ "$status" == "Pending" || "$status" == "InProgress" ]] || break
  sleep 0.2
done
[[ "$status" == "Success" ]] || fail "invocation ended '$status'"

# 4. ListCommandInvocations --details shows the plugins and their output.
plugins="$(awscli ssm list-command-invocations --command-id "$command_id" --details \
  --query 'CommandInvocations[0].CommandPlugins[].[Name,Status,ResponseCode]')"
[[ -n "$plugins" ]] || fail "list-command-invocations --details showed no plugins"
echo "ok: list-command-invocations --details: $(tr '\t' ' ' <<<"$plugins" | paste -sd ';')"

# 5. EC2 DescribeTags (Query protocol, XML): which instances carry the fleet tag; mi- nodes have no EC2 tags.
tagged="$(awscli ec2 describe-tags --filters "Name=key,Values=${tag_key}" "Name=resource-type,Values=instance" \
  --query 'Tags[].ResourceId')"
for id in $tagged; do
  [[ "$id" == i-* ]] || fail "describe-tags listed $id, which is not an EC2 instance"
done
[[ -n "$tagged" ]] || fail "describe-tags found no instance with the fleet tag"
if bad_filter="$(awscli ec2 describe-tags --filters "Name=colour,Values=blue" 2>&1)"; then
  fail "describe-tags accepted an unknown filter"
fi
[[ "$bad_filter" == *"InvalidParameterValue"* ]] || fail "an unknown describe-tags filter answered: $bad_filter"
echo "ok: ec2 describe-tags: $(wc -w <<<"$tagged") instances carry ${tag_key}"
