#!/usr/bin/perl
# Usage: scripts/bench_sampler.pl PID LOG OUT [INTERVAL_S [pss]]
# bench.sh's sampler: while PID lives, every INTERVAL_S (0.2) seconds appends to OUT
#   "<unix time> <lines in LOG> <RSS KB> <anonymous RSS KB> <CPU ticks> [<PSS KB>]"
# summed over PID and its descendants (memory without the `timeout` and `time` wrappers; CPU
# ticks are user+system of the live processes and of the children they reaped). PSS (each shared
# page divided among the processes mapping it) only when asked: the kernel walks every mapping.
# One process reading /proc, without a fork per sample: the shell sampler it replaces forked ~15
# processes per sample, which on a 2-core machine took almost half a core from the tools measured.
use strict;
use warnings;
use Time::HiRes qw(time sleep);

my ($root, $log, $out, $interval, $with_pss) = @ARGV;
die "usage: bench_sampler.pl PID LOG OUT [INTERVAL_S [pss]]\n" unless defined $out;
$interval //= 0.2;
$with_pss = defined $with_pss && $with_pss eq 'pss';
my $page_kb = 4;    # x86-64 and arm64 Debian kernels: 4 KiB pages

open(my $o, '>>', $out) or die "bench_sampler.pl: $out: $!\n";
$o->autoflush(1);

my ($lines, $log_fh, $partial) = (0, undef, 0);
sub log_lines {    # newlines in LOG so far, read incrementally
  unless ($log_fh) { open($log_fh, '<', $log) or return $lines; }
  while (sysread($log_fh, my $buf, 1 << 20)) { $lines += ($buf =~ tr/\n//); }
  return $lines;
}

sub slurp { my ($f) = @_; open(my $fh, '<', $f) or return undef; local $/; my $s = <$fh>; return $s; }

sub sample {
  my (%ppid, %comm, %stat);
  opendir(my $d, '/proc') or die "bench_sampler.pl: /proc: $!\n";
  for my $p (grep { /^\d+$/ } readdir($d)) {
    my $s = slurp("/proc/$p/stat") // next;
    $s =~ /^\d+ \((.*)\) (.*)$/s or next;
    my @f = split ' ', $2;    # $f[0] is the state: stat's field 3
    ($comm{$p}, $ppid{$p}, $stat{$p}) = ($1, $f[1], \@f);
  }
  closedir($d);
  my ($rss, $anon, $cpu, $pss) = (0, 0, 0, 0);
  for my $p (keys %ppid) {
    my $q = $p;
    $q = $ppid{$q} while defined $q && $q != 0 && $q != $root && exists $ppid{$q};
    next unless defined $q && $q == $root;
    my $f = $stat{$p};
    $cpu += $f->[11] + $f->[12] + $f->[13] + $f->[14];    # utime stime cutime cstime
    next if $comm{$p} eq 'timeout' || $comm{$p} eq 'time';
    $rss += $f->[21] * $page_kb;                          # rss, in pages
    my $status = slurp("/proc/$p/status") // next;
    $anon += $1 if $status =~ /^RssAnon:\s+(\d+)/m;
    next unless $with_pss;
    my $rollup = slurp("/proc/$p/smaps_rollup") // next;
    $pss += $1 if $rollup =~ /^Pss:\s+(\d+)/m;
  }
  return ($rss, $anon, $cpu, $pss);
}

while (kill(0, $root)) {
  my $t = time;
  my $n = log_lines();
  my ($rss, $anon, $cpu, $pss) = sample();
  printf $o "%.6f %d %d %d %d%s\n", $t, $n, $rss, $anon, $cpu, $with_pss ? " $pss" : "";
  my $left = $interval - (time - $t);
  sleep($left) if $left > 0;
}
