#!/usr/bin/env bash
# System packages the tests and benchmarks use: Chromium (browser tests), handwriting fonts (test
# scans only: never trained on), Debian's Fashion-MNIST, Tesseract (the OCR engine the number
# benchmark compares with), wrk (the server benchmark's load generator). Installs only what is
# missing, and only where apt-get can run.
set -euo pipefail
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/bin/chromedriver ] || need+=(chromium-driver)
[ -d /usr/share/datasets/fashion-mnist ] || need+=(dataset-fashion-mnist)
[ -d /usr/share/fonts/truetype/fifthhorseman ] || need+=(fonts-dkg-handwriting)
[ -d /usr/share/fonts/truetype/breip ] || need+=(fonts-breip)
[ -d /usr/share/fonts/truetype/femkeklaver ] || need+=(fonts-femkeklaver)
[ -d /usr/share/fonts/truetype/rufscript ] || need+=(fonts-rufscript)
[ -d /usr/share/fonts/truetype/sjfonts ] || need+=(fonts-sjfonts)
[ -d /usr/share/fonts/opentype/bwht ] || need+=(fonts-bwht)
[ -d /usr/share/fonts/truetype/humor-sans ] || need+=(fonts-humor-sans)
[ -d /usr/share/fonts/opentype/comic-neue ] || need+=(fonts-comic-neue)
[ -d /usr/share/fonts/truetype/dejavu ] || need+=(fonts-dejavu-core)
[ -d /usr/share/fonts/opentype/dancingscript ] || need+=(fonts-dancingscript)
[ -d /usr/share/fonts/truetype/kiloji ] || need+=(fonts-kiloji)
[ -d /usr/share/fonts/truetype/kristi ] || need+=(fonts-kristi)
[ -d /usr/share/fonts/truetype/tomsontalks ] || need+=(fonts-tomsontalks)
[ -d /usr/share/fonts/truetype/yusei-magic ] || need+=(fonts-yusei-magic)
[ -d /usr/share/fonts/truetype/klee ] || need+=(fonts-klee)
[ -f /usr/share/fonts/truetype/tlwg/Purisa.ttf ] || need+=(fonts-tlwg-purisa-ttf)
[ -d /usr/share/fonts/opentype/lobster ] || need+=(fonts-lobster)
[ -d /usr/share/fonts/opentype/kaushanscript ] || need+=(fonts-kaushanscript)
[ -d /usr/share/fonts/opentype/havana ] || need+=(fonts-havana)
[ -d /usr/share/fonts/truetype/leckerli-one ] || need+=(fonts-leckerli-one)
[ -d /usr/share/fonts/truetype/ecolier-court ] || need+=(fonts-ecolier-court)
[ -d /usr/share/fonts/truetype/seto ] || need+=(fonts-seto)
[ -d /usr/share/fonts/truetype/yozvox-yozfont ] || need+=(fonts-yozvox-yozfont)
[ -d /usr/share/fonts/opentype/joscelyn ] || need+=(fonts-joscelyn)
command -v tesseract >/dev/null || need+=(tesseract-ocr)
command -v npm >/dev/null || need+=(npm)
command -v wrk >/dev/null || need+=(wrk)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "note: missing system packages (${need[*]}); install them with apt-get as root." \
       "Tests that need them are skipped." >&2
  exit 0
fi
echo "installing system packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
