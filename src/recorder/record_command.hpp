#pragma once
// `loadctl record ...` and `loadctl har2xml ...` (main.cpp hands them their arguments, the command
// name first). Each returns the process's exit status.

namespace loadctl::recorder {

int record_main(int argc, char** argv);
int har2xml_main(int argc, char** argv);

}  // namespace loadctl::recorder
