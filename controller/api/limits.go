package api

// maxBody bounds the JSON body of a USP request: room for a request as
// large as the 5 MiB Record an MTP carries by default. A larger body is
// answered 413; so is a request whose Record is larger than the Agent's
// MTP takes (controller.ErrTooLarge).
const maxBody = 8 << 20
