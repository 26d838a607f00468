/* hostmem.h - whether this machine's memory is given back to a host.
 *
 * A Linux guest with a virtio balloon that negotiated free page reporting
 * (VIRTIO_BALLOON_F_REPORTING, feature bit 5 of a virtio device of type 5)
 * hands its free memory back to the host, which backs it again at its
 * next first touch: on this project's 2-vCPU guest a fresh 2 MiB huge page
 * then costs 4x what 512 small pages do (docs/memory.md, "Huge pages").
 * cli/main.c reads it once to choose the huge-page policy (core/bigmem).
 */
#ifndef SF_IO_HOSTMEM_H
#define SF_IO_HOSTMEM_H

/* 1 when a virtio balloon under sysroot (NULL: "/sys") reports free pages
 * to its host, from bus/virtio/devices/NAME/device (0x0005: a balloon) and
 * features (the negotiated bits as '0'/'1' characters, bit 0 first); 0
 * otherwise, and wherever the files are missing or unreadable (not
 * Linux, no virtio). Cannot fail. */
int sf_hostmem_reports_free_pages(const char *sysroot);

#endif
