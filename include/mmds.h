/* mmds.h - umbrella header: everything mmds offers. */
#ifndef MMDS_H
#define MMDS_H

#include <mmds/common.h>
#include <mmds/map.h>
#include <mmds/counters.h>
#include <mmds/log.h>
#include <mmds/ring.h>
#include <mmds/ship.h>

#endif /* MMDS_H */
